// The studio: one store per feature, named like the app's command modules
// (src-tauri/src/commands/): `app` (toasts, devices), `settings`, `preview`, `live`, `room`,
// `clips`. Components read them; only their methods talk to the backend. This root wires the
// events to them, loads what the page starts with, and holds what spans features (keyboard
// shortcuts, the first-run wizard's result).

import type { DestinationSetting } from '../bindings';
import { AppStore } from './app.svelte';
import { ClipsStore } from './clips.svelte';
import { GuestsStore } from './guests.svelte';
import { i18n } from './i18n.svelte';
import type { Backend, Unlisten } from './ipc';
import { LiveStore } from './live.svelte';
import { PreviewStore } from './preview.svelte';
import { RoomStore } from './room.svelte';
import { SettingsStore } from './settings.svelte';

export class Studio {
  readonly app: AppStore;
  readonly settings: SettingsStore;
  readonly preview: PreviewStore;
  readonly clips: ClipsStore;
  readonly room: RoomStore;
  readonly live: LiveStore;
  readonly guests: GuestsStore;
  private unlisten: Unlisten[] = [];

  constructor(backend: Backend) {
    this.app = new AppStore(backend);
    this.settings = new SettingsStore(this.app);
    this.preview = new PreviewStore(this.app);
    this.clips = new ClipsStore(this.app);
    this.room = new RoomStore(this.app, this.settings);
    this.live = new LiveStore(this.app, this.settings, this.preview, this.clips);
    this.guests = new GuestsStore(this.app);
  }

  async init() {
    const b = this.app.backend;
    /** The scene on air when this page loads mid-stream. */
    let resumeScene: string | null = null;
    this.unlisten.push(
      await b.on('stats', (s) => this.live.applyStats(s)),
      await b.on('session_event', (e) => this.live.applyEvent(e)),
      await b.on('room', (e) => this.room.apply(e)),
      await b.on('audio_level', (l) => this.preview.applyLevel(l)),
      await b.on('room_ready', (r) => this.room.ready(r)),
      await b.on('platform_chat', (c) => this.room.applyPlatform(c)),
      await b.on('chat_source', (s) => this.room.applySource(s)),
      await b.on('platform_login', (e) => this.room.applyLogin(e)),
    );
    try {
      const info = await b.appInfo();
      i18n.followOs(info.locale);
      if (info.room) this.room.info = info.room;
      // A page reloaded while live picks the live studio up again.
      if (info.live_s != null && this.live.phase === 'idle') {
        this.live.resume(info.live_s);
        resumeScene = info.on_air;
      }
      await this.room.attach();
    } catch (e) {
      this.app.fail(e);
    }
    const s = await this.settings.load();
    if (s) {
      this.live.sceneId = s.video;
      if (s.audio) this.live.audio = s.audio;
    }
    if (resumeScene) this.live.sceneId = resumeScene;
    this.settings.loaded = true;
    await this.preview.start();
    await this.app.refreshDevices();
    const mic = this.app.devices?.microphones.find((m) => m.is_default);
    if (mic && this.live.audio === 'tone') this.live.audio = mic.source;
    if (!this.live.scenes.some((x) => x.id === this.live.sceneId)) this.live.sceneId = 'test';
    void this.live.showIdlePreview();
    this.live.startClock();
  }

  /** The first-run wizard's choices: remembered, and shown in the studio. */
  async finishFirstRun(r: { camera: string | null; mic: string | null; destination: DestinationSetting | null; mode: 'live' | 'record' }) {
    const s = $state.snapshot(this.settings.value);
    if (r.camera) {
      s.video = r.camera;
      this.live.sceneId = r.camera;
    }
    if (r.mic) {
      s.audio = r.mic;
      this.live.audio = r.mic;
    }
    if (r.destination) s.destinations = [...s.destinations.filter((d) => d.url !== r.destination!.url), r.destination];
    s.record = r.mode === 'record' ? true : s.record;
    s.first_run_done = true;
    this.settings.firstRun = false;
    void this.preview.measureInput(null);
    await this.settings.save(s);
    void this.live.showIdlePreview();
  }

  /** Keyboard: 1–9 → scene (with Shift: a 300 ms fade), H clip, M mark, D director, L clips,
   *  A admit the guest waiting longest. Returns whether the key was handled. */
  shortcut(key: string, fade = false): boolean {
    const live = this.live;
    if (live.phase === 'live' && (key === 'h' || key === 'H')) {
      void live.saveHighlight();
      return true;
    }
    if (live.phase === 'live' && (key === 'm' || key === 'M')) {
      void live.markHighlight();
      return true;
    }
    if ((key === 'd' || key === 'D') && live.directorAvailable) {
      void live.toggleDirector();
      return true;
    }
    if (key === 'l' || key === 'L') {
      this.clips.toggle();
      return true;
    }
    if (live.phase === 'live' && (key === 'a' || key === 'A')) return this.guests.admitNext();
    if (!/^[1-9]$/.test(key)) return false;
    const s = live.scenes[Number(key) - 1];
    if (!s) return false;
    live.selectScene(s.id, fade ? 'fade:300' : 'cut');
    return true;
  }

  dispose() {
    this.unlisten.forEach((u) => u());
    this.unlisten = [];
    this.live.dispose();
    this.preview.dispose();
    this.room.dispose();
    this.guests.stop();
  }
}
