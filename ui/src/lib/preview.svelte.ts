// The preview and the input meter before going live (`preview_url`, `preview_info`,
// `preview_source`, `preview_audio`, the `audio_level` event: src-tauri/src/commands/preview.rs).

import type { AudioLevel } from '../bindings';
import type { AppStore } from './app.svelte';
import { t } from './i18n.svelte';
import { toAppError } from './ipc';

/**
 * What the corner of the preview shows, as the engine measures it (`preview_info`): the
 * preview is an `<img>` playing the engine's localhost MJPEG stream (src-tauri/README.md),
 * decoded and painted by WebKit with no script per picture, so the page does not see pictures.
 */
export interface PreviewMetrics {
  /** Pictures per second made for the preview. */
  fps: number;
}

export class PreviewStore {
  /** The preview stream (an `<img>` source), once the engine has started it. */
  url = $state<string | null>(null);
  /** Why the preview cannot show the chosen source (a camera in use…), in a streamer's words. */
  error = $state<string | null>(null);
  /** Pictures are arriving. */
  showing = $state(false);
  metrics = $state<PreviewMetrics | null>(null);
  /** The level of the input measured before going live (first run). */
  inputLevel = $state<{ peakDb: number; rmsDb: number } | null>(null);
  private poll: ReturnType<typeof setInterval> | null = null;

  constructor(private app: AppStore) {}

  async start() {
    try {
      this.url = await this.app.backend.previewUrl();
    } catch (e) {
      this.app.fail(e);
    }
  }

  /** The preview's `<img>` showed a picture (or lost its stream): the corner numbers follow. */
  shown(shown: boolean) {
    this.showing = shown;
    if (!shown) {
      if (this.poll) clearInterval(this.poll);
      this.poll = null;
      return;
    }
    if (this.poll) return;
    const poll = async () => {
      try {
        const i = await this.app.backend.previewInfo();
        this.metrics = { fps: i.fps };
      } catch {
        /* the numbers are a nicety */
      }
    };
    void poll();
    this.poll = setInterval(poll, 1000);
  }

  /** Shows a source alone (before going live: no encoder runs); null: none. */
  async showSource(source: string | null) {
    this.error = null;
    try {
      await this.app.backend.previewSource(source);
    } catch (e) {
      // Shown in the preview itself, where the streamer is looking.
      this.showing = false;
      const err = toAppError(e);
      this.error = err.code === 'device' ? `${t('error.device')} (${err.message})` : err.message;
    }
  }

  /** First run: measure the chosen mic for the level meter (null stops). */
  async measureInput(audio: string | null) {
    this.inputLevel = null;
    try {
      await this.app.backend.previewAudio(audio);
    } catch (e) {
      this.app.fail(e);
    }
  }

  applyLevel(l: AudioLevel) {
    this.inputLevel = { peakDb: l.peak_db, rmsDb: l.rms_db };
  }

  dispose() {
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
  }
}
