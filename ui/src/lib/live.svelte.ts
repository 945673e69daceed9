// Going live and the running stream: scenes, the stats history, director mode, overlays and
// highlights (`go_live`, `end_live`, `switch_scene`…, the `stats` and `session_event` events:
// src-tauri/src/commands/live.rs).

import type { AppSettings, OutputState, OverlaySetting, SessionEvent, Stats } from '../bindings';
import type { AppStore } from './app.svelte';
import type { ClipsStore } from './clips.svelte';
import { formatDuration, t } from './i18n.svelte';
import type { PreviewStore } from './preview.svelte';
import type { SettingsStore } from './settings.svelte';

export type Phase = 'idle' | 'starting' | 'live' | 'ending';

export interface Scene {
  id: string;
  source: string;
  label: string;
  shortcut: number;
}

/** Two minutes of one-second samples. */
export const HISTORY = 120;

/** The label for a destination state: connecting / live / reconnecting #n / failed: reason. */
export function stateLabel(s: OutputState | null | undefined): string {
  if (!s) return t('state.idle');
  switch (s.state) {
    case 'connecting':
      return t('state.connecting');
    case 'live':
      return t('state.live');
    case 'reconnecting':
      return t('state.reconnecting', { n: s.attempt });
    case 'failed':
      return t('state.failed', { reason: s.reason });
    case 'stopped':
      return t('state.stopped');
  }
}

export class LiveStore {
  phase = $state<Phase>('idle');
  startedAt = $state<number | null>(null);
  /** The clock the timer and the room panels read (4 Hz live, 1 Hz idle). */
  now = $state(Date.now());
  stats = $state<Stats | null>(null);
  /** Bitrate history per destination index (kbps), newest last. */
  history = $state<number[][]>([]);
  events = $state<SessionEvent[]>([]);
  confirmingEnd = $state(false);
  /** The scene shown (before going live) or on air. */
  sceneId = $state('test');
  /** The audio source to go live with. */
  audio = $state('tone');
  savingHighlight = $state(false);
  /** Overlays shown now while live (id → on), from the settings at Go Live. */
  overlayOn = $state<Record<string, boolean>>({});
  private tick: ReturnType<typeof setInterval> | null = null;
  private clock: ReturnType<typeof setInterval> | null = null;

  constructor(
    private app: AppStore,
    private settings: SettingsStore,
    private preview: PreviewStore,
    private clips: ClipsStore,
  ) {}

  private get backend() {
    return this.app.backend;
  }

  get scenes(): Scene[] {
    const cams = this.app.devices?.cameras ?? [];
    const list = [
      { id: 'test', source: 'test', label: t('scenes.test') },
      // A network camera (it has a push address) is named in the UI's language by its port.
      ...cams.map((c, i) => ({
        id: c.source,
        source: c.source,
        label: c.push_to ? t('scenes.network', { port: /:(\d+)/.exec(c.source)?.[1] ?? '' }) : c.name || t('scenes.camera', { n: i + 1 }),
      })),
    ];
    return list.slice(0, 9).map((s, i) => ({ ...s, shortcut: i + 1 }));
  }

  get elapsed(): number {
    return this.startedAt == null ? 0 : (this.now - this.startedAt) / 1000;
  }

  get timer(): string {
    return formatDuration(this.elapsed);
  }

  /** Starts the idle clock (the panels' `now`). */
  startClock() {
    this.clock = setInterval(() => {
      if (this.phase === 'idle') this.now = Date.now();
    }, 1000);
  }

  /** Before going live the preview shows the selected source alone (no encoder runs). */
  async showIdlePreview(source?: string | null) {
    if (this.phase !== 'idle') return;
    const src = source === undefined ? (this.scenes.find((s) => s.id === this.sceneId)?.source ?? 'test') : source;
    await this.preview.showSource(src);
  }

  /** Before going live: the source shown first. While live: a cut (or `transition`) to it. */
  selectScene(id: string, transition = 'cut') {
    if (this.phase === 'live') {
      if (!this.scenes.some((s) => s.id === id) || id === this.sceneId) return;
      const before = this.sceneId;
      this.sceneId = id;
      this.backend.switchScene(id, transition).catch((e) => {
        this.sceneId = before;
        this.app.fail(e);
      });
      return;
    }
    if (this.phase !== 'idle') return;
    if (this.scenes.some((s) => s.id === id)) {
      this.sceneId = id;
      const src = this.scenes.find((s) => s.id === id)?.source ?? 'test';
      if (this.settings.loaded && src !== this.settings.value.video) this.settings.persist({ video: src });
      void this.showIdlePreview(src);
    }
  }

  async goLive() {
    if (this.phase !== 'idle') return;
    this.phase = 'starting';
    this.app.error = null;
    this.stats = null;
    this.history = this.settings.destinations.map(() => []);
    this.events = [];
    const scene = this.scenes.find((s) => s.id === this.sceneId) ?? this.scenes[0];
    const v = this.settings.value;
    try {
      await this.backend.goLive({
        video: scene.source,
        sources: this.scenes.map((s) => s.source),
        mic_gain_db: v.mic_gain_db ?? 0,
        source_mics: { ...v.source_mics },
        director: v.director,
        director_hold_s: v.director_hold_s,
        overlays: $state.snapshot(v.overlays) as OverlaySetting[],
        audio: this.audio,
        destinations: $state.snapshot(this.settings.destinations),
        record: this.settings.record,
        record_path: null,
        width: v.width,
        height: v.height,
        fps: v.fps,
        bitrate_kbps: v.bitrate_kbps,
        encoder: v.encoder,
        guests: { ...v.guests },
        adaptive_bitrate: v.adaptive_bitrate,
        min_bitrate_kbps: v.min_bitrate_kbps,
        chat: [...v.chat_sources],
      });
      this.resume(0);
    } catch (e) {
      this.phase = 'idle';
      this.app.fail(e);
      void this.showIdlePreview();
    }
  }

  /** Shows the studio as live, `seconds` into the stream (the live timer counts from there). */
  resume(seconds: number) {
    this.phase = 'live';
    this.overlayOn = Object.fromEntries(this.settings.value.overlays.map((o) => [o.id, o.enabled]));
    this.startedAt = Date.now() - seconds * 1000;
    this.now = Date.now();
    if (this.tick) clearInterval(this.tick);
    this.tick = setInterval(() => (this.now = Date.now()), 250);
  }

  /** End asks first. */
  requestEnd() {
    if (this.phase === 'live') this.confirmingEnd = true;
  }

  cancelEnd() {
    this.confirmingEnd = false;
  }

  async confirmEnd() {
    this.confirmingEnd = false;
    if (this.phase !== 'live') return;
    this.phase = 'ending';
    try {
      const summary = await this.backend.endLive();
      this.app.notice = t('live.ended', { duration: formatDuration(summary.duration_s) });
      if (summary.recording) this.clips.showSuggestionsOf(summary.recording);
    } catch (e) {
      this.app.fail(e);
    } finally {
      if (this.tick) clearInterval(this.tick);
      this.tick = null;
      this.phase = 'idle';
      this.startedAt = null;
      this.stats = null;
      this.history = [];
      void this.showIdlePreview();
    }
  }

  applyStats(s: Stats) {
    this.stats = s;
    this.history = s.destinations.map((d, i) => [...(this.history[i] ?? []), d.bitrate_kbps].slice(-HISTORY));
  }

  applyEvent(e: SessionEvent) {
    this.events = [...this.events.slice(-199), e];
    // What is on air (the director's cuts too): the event's subject is the scene.
    if (e.kind === 'scene' && this.scenes.some((s) => s.id === e.subject)) this.sceneId = e.subject;
  }

  /** Saves the last `seconds` as a clip (while live); the toast says where. */
  async saveHighlight(seconds = 30) {
    if (this.phase !== 'live' || this.savingHighlight) return;
    this.savingHighlight = true;
    try {
      const clip = await this.backend.saveHighlight(seconds);
      this.app.notice = t('highlight.saved', { path: clip.path });
      void this.clips.refresh();
    } catch (e) {
      this.app.fail(e);
    } finally {
      this.savingHighlight = false;
    }
  }

  /** Drops a mark now (while live). */
  async markHighlight() {
    if (this.phase !== 'live') return;
    try {
      const at = await this.backend.markHighlight('');
      this.app.notice = t('highlight.marked', { time: formatDuration(at) });
    } catch (e) {
      this.app.fail(e);
    }
  }

  /** Is this overlay showing (live), or set to show at the start (not live)? */
  overlayShown(id: string): boolean {
    if (this.phase === 'live' && id in this.overlayOn) return this.overlayOn[id];
    return this.settings.value.overlays.find((o) => o.id === id)?.enabled ?? false;
  }

  /** The stream itself shows the danmaku (a burnt-in layer is on): the preview shows it once,
   * so the page's own danmaku layer stays off. */
  get danmakuBurntIn(): boolean {
    return this.phase === 'live' && this.settings.value.overlays.some((o) => o.kind === 'danmaku' && this.overlayShown(o.id));
  }

  /** Shows/hides an overlay: in the stream while live, else for the next stream. */
  async toggleOverlay(id: string) {
    const on = !this.overlayShown(id);
    await this.switchLiveOrNext(
      () => this.backend.setOverlay(id, on),
      () => (this.overlayOn = { ...this.overlayOn, [id]: on }),
      { overlays: this.settings.value.overlays.map((o) => (o.id === id ? { ...o, enabled: on } : o)) },
    );
  }

  /** A switch of the running stream while live (`live`, then `shown` once the engine took
   * it), else of the settings for the next stream (`patch`, remembered). */
  private async switchLiveOrNext(live: () => Promise<void>, shown: () => void, patch: Partial<AppSettings>) {
    if (this.phase === 'live') {
      try {
        await live();
        shown();
      } catch (e) {
        this.app.fail(e);
      }
      return;
    }
    this.settings.value = { ...this.settings.value, ...patch };
    this.settings.persist(patch);
  }

  /** Some camera has a microphone (Settings → Audio): director mode can run. */
  get directorAvailable(): boolean {
    return Object.values(this.settings.value.source_mics ?? {}).some((m) => !!m && m !== 'none');
  }

  /** Director mode as it is now: the engine's while live, the setting before. */
  get directorOn(): boolean {
    return this.phase === 'live' && this.stats?.director != null ? this.stats.director : this.settings.value.director;
  }

  /** Turns director mode on/off: the running stream's while live, else for the next one. */
  async toggleDirector() {
    const on = !this.directorOn;
    await this.switchLiveOrNext(
      () => this.backend.setDirector(on),
      () => {
        if (this.stats) this.stats = { ...this.stats, director: on };
      },
      { director: on },
    );
  }

  dispose() {
    if (this.tick) clearInterval(this.tick);
    if (this.clock) clearInterval(this.clock);
  }
}
