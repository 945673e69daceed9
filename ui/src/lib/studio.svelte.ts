// The studio's state: what is live, the stats history, the room. Components read it; only its
// methods talk to the backend.

import type {
  AppError,
  AppSettings,
  ClipInfo,
  ExportReport,
  RecordingInfo,
  SuggestionItem,
  SuggestionList,
  Devices,
  DestinationSetting,
  GiftDef,
  Lottery,
  Preflight,
  Question,
  RoomSettings,
  OverlaySetting,
  OutputState,
  Poll,
  PollStart,
  RoomEvent,
  RoomInfo,
  SessionEvent,
  Stats,
} from '../bindings';
import { i18n, t, formatDuration, type Locale } from './i18n.svelte';
import { toAppError, type Backend, type Unlisten } from './ipc';
import { defaultSettings } from './mock';

export type Phase = 'idle' | 'starting' | 'live' | 'ending';

/**
 * What the corner of the preview shows, as the engine measures it (`preview_info`): the
 * preview is an `<img>` playing the engine's localhost MJPEG stream (src-tauri/src/preview.rs),
 * decoded and painted by WebKit with no script per picture, so the page does not see pictures.
 */
export interface PreviewMetrics {
  /** Pictures per second made for the preview. */
  fps: number;
}

export interface Scene {
  id: string;
  source: string;
  label: string;
  shortcut: number;
}

export interface ChatItem {
  id: number;
  at: number;
  user: string;
  role: string;
  text: string;
  color: string;
  deleted: boolean;
  /** The user's room id (for timeout / ban). */
  userId?: string;
  /** `scroll`, `top` or `bottom` over the video. */
  mode?: 'scroll' | 'top' | 'bottom';
  /** Gift rows are highlighted in the chat. */
  kind?: 'chat' | 'gift';
  gift?: string;
  count?: number;
  question?: boolean;
}

export interface QaItem {
  id: number;
  user: string;
  text: string;
  at: number;
  answered?: boolean;
}

/** A message menu action. */
export type ChatAction = 'delete' | 'timeout_60' | 'timeout_600' | 'ban' | 'pin_question';

export interface GiftItem {
  combo?: number;
  key: number;
  at: number;
  user: string;
  gift: string;
  count: number;
  coins: number;
}

/** A 9:16 export under way: which clip of how many, and how far. */
export interface ExportState {
  names: string[];
  index: number;
  total: number;
  name: string;
  fraction: number;
}

export type ClipsTab = 'library' | 'suggestions';

/** An `<img>` source for thumbnail bytes: JPEG from the app, SVG from the mock. Revoke it. */
function imageUrl(bytes: ArrayBuffer): string {
  const head = new Uint8Array(bytes, 0, Math.min(2, bytes.byteLength));
  const type = head[0] === 0xff && head[1] === 0xd8 ? 'image/jpeg' : 'image/svg+xml';
  return URL.createObjectURL(new Blob([bytes], { type }));
}

/** The file name of a path (either separator). */
export function baseName(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

/** Two minutes of one-second samples. */
export const HISTORY = 120;
/** Chat messages kept in memory (rendering shows the newest; virtualisation comes later). */
export const CHAT_KEEP = 100_000;
const DEST_KEY = 'marquee.destinations';

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

function loadDestinations(): DestinationSetting[] {
  try {
    const v = JSON.parse(globalThis.localStorage?.getItem(DEST_KEY) ?? '[]');
    return Array.isArray(v) ? v.filter((d) => typeof d?.url === 'string') : [];
  } catch {
    return [];
  }
}

export class Studio {
  phase = $state<Phase>('idle');
  startedAt = $state<number | null>(null);
  now = $state(Date.now());
  stats = $state<Stats | null>(null);
  /** Bitrate history per destination index (kbps), newest last. */
  history = $state<number[][]>([]);
  events = $state<SessionEvent[]>([]);
  error = $state<AppError | null>(null);
  notice = $state<string | null>(null);
  confirmingEnd = $state(false);
  devices = $state<Devices | null>(null);
  sceneId = $state('test');
  audio = $state('tone');
  record = $state(false);
  destinations = $state<DestinationSetting[]>(loadDestinations());
  room = $state<RoomInfo | null>(null);
  roomDown = $state<string | null>(null);
  /** The room panel has its history and gets live events (see `attachRoom`). */
  private roomAttached = false;
  /** Replaying history: old gifts go into the lists without an alert. */
  private replaying = false;
  /** Oldest first; mutated in place (a 100k backlog is never copied per message): read
   *  `chatRevision` to react to it. */
  chat = $state.raw<ChatItem[]>([]);
  gifts = $state<GiftItem[]>([]);
  giftAlert = $state<GiftItem | null>(null);
  poll = $state<Poll | null>(null);
  viewers = $state(0);
  catalog = $state<GiftDef[]>([]);
  /** The level of the input measured before going live (first run). */
  inputLevel = $state<{ peakDb: number; rmsDb: number } | null>(null);
  /** Bumped on every chat change (the virtualised list re-reads then). */
  chatRevision = $state(0);
  questions = $state<QaItem[]>([]);
  pinned = $state<number | null>(null);
  lottery = $state<Lottery | null>(null);
  roomRules = $state<RoomSettings>({ slow_mode_s: 0, mods_only: false, blocked_mode: 'mask', user_rate_per_min: 0 });
  /** Users timed out (until, ms) or banned (Infinity) in this session, by id. */
  muted = $state<Record<string, number>>({});
  /** What the app remembers (loaded at start, saved on change). */
  settings = $state<AppSettings>(defaultSettings());
  settingsLoaded = $state(false);
  /** The first-run wizard is showing. */
  firstRun = $state(false);
  settingsOpen = $state(false);
  /** Why the preview cannot show the chosen source (a camera in use…), in a streamer's words. */
  previewError = $state<string | null>(null);
  /** Pictures are arriving in the preview. */
  previewing = $state(false);
  previewMetrics = $state<PreviewMetrics | null>(null);
  /** The preview stream (an `<img>` source), once the engine has started it. */
  previewUrl = $state<string | null>(null);
  private previewPoll: ReturnType<typeof setInterval> | null = null;

  private unlisten: Unlisten[] = [];
  private tick: ReturnType<typeof setInterval> | null = null;
  private clock: ReturnType<typeof setInterval> | null = null;
  private giftSeq = 0;
  private giftTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private backend: Backend) {
  }

  get scenes(): Scene[] {
    const cams = this.devices?.cameras ?? [];
    const list = [
      { id: 'test', source: 'test', label: t('scenes.test') },
      ...cams.map((c, i) => ({ id: c.source, source: c.source, label: c.name || t('scenes.camera', { n: i + 1 }) })),
    ];
    return list.slice(0, 9).map((s, i) => ({ ...s, shortcut: i + 1 }));
  }

  get elapsed(): number {
    return this.startedAt == null ? 0 : (this.now - this.startedAt) / 1000;
  }

  get timer(): string {
    return formatDuration(this.elapsed);
  }

  async init() {
    const b = this.backend;
    /** The scene on air when this page loads mid-stream. */
    let resumeScene: string | null = null;
    this.unlisten.push(
      await b.on('stats', (s) => this.applyStats(s)),
      await b.on('session_event', (e) => {
        this.events = [...this.events.slice(-199), e];
        // What is on air (the director's cuts too): the event's subject is the scene.
        if (e.kind === 'scene' && this.scenes.some((s) => s.id === e.subject)) this.sceneId = e.subject;
      }),
      await b.on('room', (e) => this.applyRoom(e)),
      await b.on('audio_level', (l) => {
        this.inputLevel = { peakDb: l.peak_db, rmsDb: l.rms_db };
      }),
      await b.on('room_ready', (r) => {
        this.room = r;
        this.roomDown = null;
        if (!this.roomAttached) void this.attachRoom();
      }),
    );
    try {
      const info = await b.appInfo();
      i18n.followOs(info.locale);
      if (info.room) this.room = info.room;
      // A page reloaded while live picks the live studio up again.
      if (info.live_s != null && this.phase === 'idle') {
        this.resumeLive(info.live_s);
        resumeScene = info.on_air;
      }
      await this.attachRoom();
    } catch (e) {
      this.error = toAppError(e);
    }
    try {
      const s = await b.loadSettings();
      this.settings = s;
      this.destinations = s.destinations.length ? s.destinations : this.destinations;
      this.record = s.record;
      this.sceneId = s.video;
      if (s.audio) this.audio = s.audio;
      this.firstRun = !s.first_run_done;
      if (s.language === 'en' || s.language === 'zh-CN') i18n.set(s.language);
      this.applyTheme();
    } catch (e) {
      this.error = toAppError(e);
    }
    if (resumeScene) this.sceneId = resumeScene;
    this.settingsLoaded = true;
    try {
      this.previewUrl = await b.previewUrl();
    } catch (e) {
      this.error = toAppError(e);
    }
    await this.refreshDevices();
    if (!this.scenes.some((s) => s.id === this.sceneId)) this.sceneId = 'test';
    void this.showIdlePreview();
    this.clock = setInterval(() => {
      if (this.phase === 'idle') this.now = Date.now();
    }, 1000);
  }

  /** The preview's `<img>` showed a picture (or lost its stream): the corner numbers follow. */
  previewShown(shown: boolean) {
    this.previewing = shown;
    if (!shown) {
      if (this.previewPoll) clearInterval(this.previewPoll);
      this.previewPoll = null;
      return;
    }
    if (this.previewPoll) return;
    const poll = async () => {
      try {
        const i = await this.backend.previewInfo();
        this.previewMetrics = { fps: i.fps };
      } catch {
        /* the numbers are a nicety */
      }
    };
    void poll();
    this.previewPoll = setInterval(poll, 1000);
  }

  /** Before going live the preview shows the selected source alone (no encoder runs). */
  async showIdlePreview(source?: string | null) {
    if (this.phase !== 'idle') return;
    const src = source === undefined ? (this.scenes.find((s) => s.id === this.sceneId)?.source ?? 'test') : source;
    this.previewError = null;
    try {
      await this.backend.previewSource(src);
    } catch (e) {
      // Shown in the preview itself, where the streamer is looking.
      this.previewing = false;
      const err = toAppError(e);
      this.previewError = err.code === 'device' ? `${t('error.device')} (${err.message})` : err.message;
    }
  }

  applyTheme() {
    const th = this.settings.theme;
    if (globalThis.document) {
      if (th === 'light' || th === 'system') document.documentElement.dataset.theme = th;
      else delete document.documentElement.dataset.theme;
    }
  }

  /** Saves the settings (and applies language and theme). */
  async saveSettings(next: AppSettings) {
    this.settings = next;
    this.destinations = next.destinations;
    this.record = next.record;
    if (next.language === 'en' || next.language === 'zh-CN') i18n.set(next.language as Locale);
    this.applyTheme();
    try {
      await this.backend.saveSettings($state.snapshot(next) as AppSettings);
    } catch (e) {
      this.error = toAppError(e);
    }
  }

  setOverlay(on: boolean) {
    this.persist({ danmaku_overlay: on });
  }

  setLanguage(l: Locale) {
    i18n.set(l);
    if (this.settingsLoaded) this.persist({ language: l });
  }

  private persist(patch: Partial<AppSettings>) {
    void this.saveSettings({ ...$state.snapshot(this.settings), ...patch } as AppSettings);
  }

  dispose() {
    this.unlisten.forEach((u) => u());
    this.unlisten = [];
    if (this.tick) clearInterval(this.tick);
    if (this.clock) clearInterval(this.clock);
    if (this.previewPoll) clearInterval(this.previewPoll);
  }

  async refreshDevices() {
    try {
      this.devices = await this.backend.listDevices();
      const mic = this.devices.microphones.find((m) => m.is_default);
      if (mic && this.audio === 'tone') this.audio = mic.source;
    } catch (e) {
      this.error = toAppError(e);
    }
  }

  /** Before going live: the source shown first. While live: a cut (or `transition`) to it. */
  selectScene(id: string, transition = 'cut') {
    if (this.phase === 'live') {
      if (!this.scenes.some((s) => s.id === id) || id === this.sceneId) return;
      const before = this.sceneId;
      this.sceneId = id;
      this.backend.switchScene(id, transition).catch((e) => {
        this.sceneId = before;
        this.error = toAppError(e);
      });
      return;
    }
    if (this.phase !== 'idle') return;
    if (this.scenes.some((s) => s.id === id)) {
      this.sceneId = id;
      const src = this.scenes.find((s) => s.id === id)?.source ?? 'test';
      if (this.settingsLoaded && src !== this.settings.video) this.persist({ video: src });
      void this.showIdlePreview(src);
    }
  }

  savingHighlight = $state(false);

  // ---- the clip library and highlight suggestions ----
  clipsOpen = $state(false);
  clipsTab = $state<ClipsTab>('library');
  clips = $state<ClipInfo[]>([]);
  clipsLoading = $state(false);
  /** Thumbnail URLs by clip name (`null`: none could be made). */
  thumbs = $state<Record<string, string | null>>({});
  /** An error about the library (`name`: on that clip's row; null: the whole list). */
  clipError = $state<{ name: string | null; message: string } | null>(null);
  exporting = $state<ExportState | null>(null);
  exportReport = $state<ExportReport | null>(null);
  recordings = $state<RecordingInfo[]>([]);
  suggestionsFor = $state<string | null>(null);
  suggestionList = $state<SuggestionList | null>(null);
  suggestionsLoading = $state(false);
  suggestionsError = $state<string | null>(null);
  /** The suggestion being kept (its peak second). */
  keeping = $state<number | null>(null);
  private thumbWanted = new Set<string>();

  /** Opens or closes the clips drawer (L); opening refreshes what it shows. */
  toggleClips(open = !this.clipsOpen, tab?: ClipsTab) {
    this.clipsOpen = open;
    if (tab) this.clipsTab = tab;
    if (open) {
      void this.refreshClips();
      if (this.clipsTab === 'suggestions' || tab === 'suggestions') void this.refreshRecordings();
    }
  }

  setClipsTab(tab: ClipsTab) {
    this.clipsTab = tab;
    if (tab === 'suggestions') void this.refreshRecordings();
  }

  async refreshClips() {
    this.clipsLoading = true;
    try {
      this.clips = await this.backend.clipList();
      if (this.clipError?.name == null) this.clipError = null;
      // Thumbnails of clips that are gone are released.
      const names = new Set(this.clips.map((c) => c.name));
      for (const n of Object.keys(this.thumbs)) if (!names.has(n)) this.dropThumb(n);
    } catch (e) {
      this.clipError = { name: null, message: toAppError(e).message };
    } finally {
      this.clipsLoading = false;
    }
  }

  /** Asks once for a clip's thumbnail. */
  async loadThumb(name: string) {
    if (name in this.thumbs || this.thumbWanted.has(name)) return;
    this.thumbWanted.add(name);
    try {
      const url = imageUrl(await this.backend.clipThumbnail(name));
      this.thumbs = { ...this.thumbs, [name]: url };
    } catch {
      // Shown as "No picture" on the clip itself.
      this.thumbs = { ...this.thumbs, [name]: null };
    } finally {
      this.thumbWanted.delete(name);
    }
  }

  private dropThumb(name: string) {
    const url = this.thumbs[name];
    if (url?.startsWith('blob:')) URL.revokeObjectURL(url);
    const next = { ...this.thumbs };
    delete next[name];
    this.thumbs = next;
  }

  async openClip(name: string) {
    try {
      await this.backend.clipOpen(name);
    } catch (e) {
      this.clipError = { name, message: toAppError(e).message };
    }
  }

  /** Renames a clip; the error message (shown under the name field) or null when done. */
  async renameClip(name: string, newName: string): Promise<string | null> {
    try {
      const c = await this.backend.clipRename(name, newName);
      const url = this.thumbs[name];
      if (url !== undefined) {
        const next = { ...this.thumbs, [c.name]: url };
        if (c.name !== name) delete next[name];
        this.thumbs = next;
      }
      this.clips = this.clips.map((x) => (x.name === name ? c : x));
      return null;
    } catch (e) {
      return toAppError(e).message;
    }
  }

  async deleteClip(name: string) {
    try {
      await this.backend.clipDelete(name);
      this.clips = this.clips.filter((c) => c.name !== name);
      this.dropThumb(name);
      if (this.clipError?.name === name) this.clipError = null;
    } catch (e) {
      this.clipError = { name, message: toAppError(e).message };
    }
  }

  /** Exports clips 9:16, one after the other, with progress; the report says what failed. */
  async exportClips(names: string[]) {
    if (this.exporting || names.length === 0) return;
    this.exportReport = null;
    this.exporting = { names, index: 0, total: names.length, name: names[0], fraction: 0 };
    try {
      this.exportReport = await this.backend.clipExport(names, (p) => {
        this.exporting = { names, index: p.index, total: p.total, name: p.name, fraction: p.fraction };
      });
    } catch (e) {
      this.exportReport = { exported: [], failed: names.map((name) => ({ name, reason: toAppError(e).message })) };
    } finally {
      this.exporting = null;
    }
    await this.refreshClips();
  }

  async refreshRecordings() {
    try {
      this.recordings = await this.backend.recordingsList();
      if (!this.suggestionsFor && this.recordings.length) void this.loadSuggestions(this.recordings[0].name);
    } catch (e) {
      this.suggestionsError = toAppError(e).message;
    }
  }

  /** Computes a recording's suggestions (the engine decodes its audio: can take seconds). */
  async loadSuggestions(recording: string) {
    this.suggestionsFor = recording;
    this.suggestionsLoading = true;
    this.suggestionsError = null;
    this.suggestionList = null;
    try {
      const list = await this.backend.suggestions(recording);
      if (this.suggestionsFor === recording) this.suggestionList = list;
    } catch (e) {
      if (this.suggestionsFor === recording) this.suggestionsError = toAppError(e).message;
    } finally {
      if (this.suggestionsFor === recording) this.suggestionsLoading = false;
    }
  }

  private patchSuggestion(item: SuggestionItem, patch: Partial<SuggestionItem> | null) {
    const l = this.suggestionList;
    if (!l) return;
    const same = (s: SuggestionItem) => s.from_s === item.from_s && s.to_s === item.to_s;
    this.suggestionList = {
      ...l,
      items: patch ? l.items.map((s) => (same(s) ? { ...s, ...patch } : s)) : l.items.filter((s) => !same(s)),
      discarded: l.discarded + (patch ? 0 : 1),
    };
  }

  /** Keep: the range is cut from the recording into the library. */
  async keepSuggestion(item: SuggestionItem) {
    const rec = this.suggestionsFor;
    if (!rec || this.keeping != null) return;
    this.keeping = item.at_s;
    this.suggestionsError = null;
    try {
      const clip = await this.backend.suggestionKeep(rec, item.from_s, item.to_s);
      this.patchSuggestion(item, { kept: clip.name });
      await this.refreshClips();
    } catch (e) {
      this.suggestionsError = toAppError(e).message;
    } finally {
      this.keeping = null;
    }
  }

  /** Discard: hidden now and remembered beside the recording. */
  async discardSuggestion(item: SuggestionItem) {
    const rec = this.suggestionsFor;
    if (!rec) return;
    try {
      await this.backend.suggestionDiscard(rec, item.from_s, item.to_s);
      this.patchSuggestion(item, null);
    } catch (e) {
      this.suggestionsError = toAppError(e).message;
    }
  }

  /** Saves the last `seconds` as a clip (while live); the toast says where. */
  async saveHighlight(seconds = 30) {
    if (this.phase !== 'live' || this.savingHighlight) return;
    this.savingHighlight = true;
    try {
      const clip = await this.backend.saveHighlight(seconds);
      this.notice = t('highlight.saved', { path: clip.path });
      void this.refreshClips();
    } catch (e) {
      this.error = toAppError(e);
    } finally {
      this.savingHighlight = false;
    }
  }

  /** Drops a mark now (while live). */
  async markHighlight() {
    if (this.phase !== 'live') return;
    try {
      const at = await this.backend.markHighlight('');
      this.notice = t('highlight.marked', { time: formatDuration(at) });
    } catch (e) {
      this.error = toAppError(e);
    }
  }

  /** Keyboard shortcut 1–9 → scene (with Shift: a 300 ms fade). Returns whether it was handled. */
  shortcut(key: string, fade = false): boolean {
    if (this.phase === 'live' && (key === 'h' || key === 'H')) {
      void this.saveHighlight();
      return true;
    }
    if (this.phase === 'live' && (key === 'm' || key === 'M')) {
      void this.markHighlight();
      return true;
    }
    if ((key === 'd' || key === 'D') && this.directorAvailable) {
      void this.toggleDirector();
      return true;
    }
    if (key === 'l' || key === 'L') {
      this.toggleClips();
      return true;
    }
    if (!/^[1-9]$/.test(key)) return false;
    const s = this.scenes[Number(key) - 1];
    if (!s) return false;
    this.selectScene(s.id, fade ? 'fade:300' : 'cut');
    return true;
  }

  /** Overlays shown now while live (id → on), from the settings at Go Live. */
  overlayOn = $state<Record<string, boolean>>({});

  /** Is this overlay showing (live), or set to show at the start (not live)? */
  overlayShown(id: string): boolean {
    if (this.phase === 'live' && id in this.overlayOn) return this.overlayOn[id];
    return this.settings.overlays.find((o) => o.id === id)?.enabled ?? false;
  }

  /** The stream itself shows the danmaku (a burnt-in layer is on): the preview shows it once,
   * so the page's own danmaku layer stays off. */
  get danmakuBurntIn(): boolean {
    return this.phase === 'live' && this.settings.overlays.some((o) => o.kind === 'danmaku' && this.overlayShown(o.id));
  }

  /** Shows/hides an overlay: in the stream while live, else for the next stream. */
  async toggleOverlay(id: string) {
    const on = !this.overlayShown(id);
    await this.switchLiveOrNext(
      () => this.backend.setOverlay(id, on),
      () => (this.overlayOn = { ...this.overlayOn, [id]: on }),
      { overlays: this.settings.overlays.map((o) => (o.id === id ? { ...o, enabled: on } : o)) },
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
        this.error = toAppError(e);
      }
      return;
    }
    this.settings = { ...this.settings, ...patch };
    this.persist(patch);
  }

  /** Some camera has a microphone (Settings → Audio): director mode can run. */
  get directorAvailable(): boolean {
    return Object.values(this.settings.source_mics ?? {}).some((m) => !!m && m !== 'none');
  }

  /** Director mode as it is now: the engine's while live, the setting before. */
  get directorOn(): boolean {
    return this.phase === 'live' && this.stats?.director != null ? this.stats.director : this.settings.director;
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

  saveDestinations(list: DestinationSetting[]) {
    this.destinations = list;
    try {
      globalThis.localStorage?.setItem(DEST_KEY, JSON.stringify(list));
    } catch {
      /* not remembered */
    }
    if (this.settingsLoaded) this.persist({ destinations: $state.snapshot(list) as DestinationSetting[] });
  }

  /** Stores a stream key in the OS keychain (it never comes back). */
  async saveKey(name: string, key: string) {
    await this.backend.setStreamKey(name, key);
  }

  setRecord(on: boolean) {
    this.record = on;
    if (this.settingsLoaded) this.persist({ record: on });
  }

  /** "Test connection": a streamer-facing result line, or an error where it happened. */
  async testConnection(d: DestinationSetting): Promise<Preflight> {
    return this.backend.testConnection(d);
  }

  /** First run: measure the chosen mic for the level meter (null stops). */
  async measureInput(audio: string | null) {
    this.inputLevel = null;
    try {
      await this.backend.previewAudio(audio);
    } catch (e) {
      this.error = toAppError(e);
    }
  }

  /** The gift's display name in the UI language. */
  giftName(id: string): string {
    const g = this.catalog.find((c) => c.id === id);
    return g ? (i18n.locale === 'zh-CN' ? g.name_zh : g.name) : id;
  }

  /** Where the room server serves gift art. */
  get giftArtBase(): string {
    const u = this.room?.viewer_url;
    return u ? `${new URL(u).origin}/gifts/` : '/assets/gifts/';
  }

  async finishFirstRun(r: { camera: string | null; mic: string | null; destination: DestinationSetting | null; mode: 'live' | 'record' }) {
    const s = $state.snapshot(this.settings) as AppSettings;
    if (r.camera) {
      s.video = r.camera;
      this.sceneId = r.camera;
    }
    if (r.mic) {
      s.audio = r.mic;
      this.audio = r.mic;
    }
    if (r.destination) s.destinations = [...s.destinations.filter((d) => d.url !== r.destination!.url), r.destination];
    s.record = r.mode === 'record' ? true : s.record;
    s.first_run_done = true;
    this.firstRun = false;
    void this.measureInput(null);
    await this.saveSettings(s);
    void this.showIdlePreview();
  }

  async addDestination(url: string, keyName: string | null, key: string | null) {
    try {
      if (keyName && key) await this.backend.setStreamKey(keyName, key);
      this.saveDestinations([...this.destinations, { url, key_name: keyName || null }]);
      return true;
    } catch (e) {
      this.error = toAppError(e);
      return false;
    }
  }

  removeDestination(i: number) {
    this.saveDestinations(this.destinations.filter((_, j) => j !== i));
  }

  async goLive() {
    if (this.phase !== 'idle') return;
    this.phase = 'starting';
    this.error = null;
    this.stats = null;
    this.history = this.destinations.map(() => []);
    this.events = [];
    const scene = this.scenes.find((s) => s.id === this.sceneId) ?? this.scenes[0];
    const v = this.settings;
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
        destinations: $state.snapshot(this.destinations),
        record: this.record,
        record_path: null,
        width: v.width,
        height: v.height,
        fps: v.fps,
        bitrate_kbps: v.bitrate_kbps,
        encoder: v.encoder,
      });
      this.resumeLive(0);
    } catch (e) {
      this.phase = 'idle';
      this.error = toAppError(e);
      void this.showIdlePreview();
    }
  }

  /** Shows the studio as live, `seconds` into the stream (the live timer counts from there). */
  private resumeLive(seconds: number) {
    this.phase = 'live';
    this.overlayOn = Object.fromEntries(this.settings.overlays.map((o) => [o.id, o.enabled]));
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
      this.notice = t('live.ended', { duration: formatDuration(summary.duration_s) });
      // The stream's best moments, from its recording and the room's signals.
      if (summary.recording) {
        this.toggleClips(true, 'suggestions');
        void this.loadSuggestions(baseName(summary.recording));
      }
    } catch (e) {
      this.error = toAppError(e);
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
    const next = s.destinations.map((d, i) => [...(this.history[i] ?? []), d.bitrate_kbps].slice(-HISTORY));
    this.history = next;
  }

  /** Replays the room so far (chat history included: it arrived before this page listened,
   * or before a reload) and turns on live `room` events; again on `room_ready` if the room
   * was still starting. */
  async attachRoom() {
    const replay = await this.backend.roomAttach();
    if (replay === null) return;
    this.roomAttached = true;
    this.replaying = true;
    try {
      for (const e of replay) this.applyRoom(e);
    } finally {
      this.replaying = false;
    }
  }

  applyRoom(e: RoomEvent) {
    switch (e.kind) {
      case 'joined':
        this.chat = [];
        this.chatRevision++;
        this.viewers = Math.max(0, e.viewers - 1);
        this.poll = e.poll;
        this.roomRules = e.settings;
        this.pinned = e.pinned?.question ?? null;
        this.lottery = e.lottery;
        this.catalog = e.catalog;
        this.roomDown = null;
        break;
      case 'chat': {
        const item: ChatItem = {
          id: e.id,
          at: e.at,
          user: e.user.name,
          role: e.user.role,
          text: e.text,
          color: e.color,
          deleted: e.deleted,
          userId: e.user.id,
          mode: e.mode === 'top' || e.mode === 'bottom' ? e.mode : 'scroll',
        };
        this.pushChat(item);
        break;
      }
      case 'chat_deleted':
        for (let i = this.chat.length - 1; i >= 0; i--) {
          if (this.chat[i].id === e.id) {
            this.chat[i] = { ...this.chat[i], deleted: true, text: '' };
            break;
          }
        }
        this.chatRevision++;
        for (const f of this.onDeleted) f(e.id);
        break;
      case 'question':
        if (!this.questions.some((q) => q.id === e.question.question)) {
          this.questions = [...this.questions, { id: e.question.question, user: e.question.user.name, text: e.question.text, at: Date.now() }].slice(-500);
        }
        break;
      case 'question_pinned':
        this.pinned = e.question?.question ?? null;
        if (e.question && !this.questions.some((q) => q.id === e.question!.question)) {
          this.questions = [...this.questions, { id: e.question.question, user: e.question.user.name, text: e.question.text, at: Date.now() }];
        }
        break;
      case 'lottery':
        this.lottery = e.lottery;
        break;
      case 'lottery_count':
        if (this.lottery && this.lottery.lottery === e.lottery) this.lottery = { ...this.lottery, entrants: e.entrants };
        break;
      case 'moderated': {
        const next = { ...this.muted };
        if (e.action === 'unban') delete next[e.user];
        else next[e.user] = e.action === 'ban' ? Number.POSITIVE_INFINITY : (e.until ?? 0);
        this.muted = next;
        break;
      }
      case 'settings':
        this.roomRules = e.settings;
        break;
      case 'blocked_words':
        break;
      case 'gift': {
        const g = { key: ++this.giftSeq, at: e.at, user: e.user.name, gift: e.gift, count: e.count, coins: e.coins, combo: e.combo };
        this.gifts = [g, ...this.gifts].slice(0, 500);
        this.pushChat({ id: e.seq, at: e.at, user: e.user.name, role: e.user.role, text: '', color: '#ffffff', deleted: false, userId: e.user.id, kind: 'gift', gift: e.gift, count: e.count });
        if (this.replaying) break;
        this.giftAlert = g;
        if (this.giftTimer) clearTimeout(this.giftTimer);
        this.giftTimer = setTimeout(() => (this.giftAlert = null), 4000);
        break;
      }
      case 'poll':
        this.poll = e.poll;
        break;
      case 'poll_tally':
        if (this.poll && this.poll.poll === e.poll) this.poll = { ...this.poll, tallies: e.tallies };
        break;
      case 'viewers':
        // The room counts every connection; the app's own host connection is not a viewer.
        this.viewers = Math.max(0, e.count - 1);
        break;
      case 'disconnected':
        this.roomDown = e.reason;
        break;
      case 'refused':
        this.error = { code: 'room', message: e.message };
        break;
    }
  }

  async sendChat(text: string) {
    const v = text.trim();
    if (!v) return;
    try {
      await this.backend.roomChat(v);
    } catch (e) {
      this.error = toAppError(e);
    }
  }

  /** Called with a message id when a moderator deleted it (the danmaku overlay takes it off). */
  readonly onDeleted = new Set<(id: number) => void>();

  private pushChat(item: ChatItem) {
    // In place: a 100k backlog is not copied per message (the list re-reads on chatRevision).
    this.chat.push(item);
    if (this.chat.length > CHAT_KEEP) this.chat.splice(0, this.chat.length - CHAT_KEEP);
    this.chatRevision++;
  }

  async deleteChat(id: number) {
    try {
      await this.backend.roomDelete(id);
    } catch (e) {
      this.error = toAppError(e);
    }
  }

  /** A message menu action. */
  async chatAction(action: ChatAction, item: { id: number; userId?: string; user: string; text: string }) {
    const b = this.backend;
    try {
      if (action === 'delete') await b.roomModerate({ action: 'delete', id: item.id });
      else if (action === 'pin_question') {
        if (!this.questions.some((q) => q.id === item.id)) this.questions = [...this.questions, { id: item.id, user: item.user, text: item.text, at: Date.now() }];
        await b.roomPinQuestion(item.id);
      } else if (item.userId) {
        if (action === 'ban') await b.roomModerate({ action: 'ban', user: item.userId });
        else await b.roomModerate({ action: 'timeout', user: item.userId, seconds: action === 'timeout_60' ? 60 : 600 });
        this.notice = t(action === 'ban' ? 'mod.banned' : 'mod.timedOut', { user: item.user, n: action === 'timeout_60' ? 1 : 10 });
      }
    } catch (e) {
      this.error = toAppError(e);
    }
  }

  async pinQuestion(id: number | null) {
    try {
      await this.backend.roomPinQuestion(id);
    } catch (e) {
      this.error = toAppError(e);
    }
  }

  markAnswered(id: number, answered: boolean) {
    this.questions = this.questions.map((q) => (q.id === id ? { ...q, answered } : q));
    if (answered && this.pinned === id) void this.pinQuestion(null);
  }

  /** When a timed lottery closes (ms), or null: open until the host draws. */
  lotteryEndsAt = $state<number | null>(null);
  private lotteryTimer: ReturnType<typeof setTimeout> | null = null;

  /** Starts a lottery; with `durationS` > 0 one winner is drawn when the time is up (the room
   *  protocol has no duration of its own). */
  async startLottery(keyword: string, prize: string, durationS = 0) {
    if (this.lotteryTimer) clearTimeout(this.lotteryTimer);
    this.lotteryTimer = null;
    this.lotteryEndsAt = null;
    try {
      await this.backend.roomLotteryStart(keyword, prize);
      if (durationS > 0) {
        this.lotteryEndsAt = Date.now() + durationS * 1000;
        this.lotteryTimer = setTimeout(() => {
          this.lotteryTimer = null;
          if (this.lottery?.open) void this.drawLottery(1);
        }, durationS * 1000);
      }
    } catch (e) {
      this.error = toAppError(e);
    }
  }

  async drawLottery(winners: number) {
    if (!this.lottery) return;
    if (this.lotteryTimer) clearTimeout(this.lotteryTimer);
    this.lotteryTimer = null;
    this.lotteryEndsAt = null;
    try {
      await this.backend.roomLotteryDraw(this.lottery.lottery, winners);
    } catch (e) {
      this.error = toAppError(e);
    }
  }

  /** Room rules and blocked words: sent to the room and remembered. */
  async saveRoomRules(v: { blockedWords: string[]; blockedMode: 'mask' | 'reject'; slowModeS: number; modsOnly: boolean; userRatePerMin: number }) {
    const before = new Set(this.settings.room.blocked_words);
    const after = new Set(v.blockedWords.map((w) => w.trim()).filter(Boolean));
    const add = [...after].filter((w) => !before.has(w));
    const remove = [...before].filter((w) => !after.has(w));
    try {
      await this.backend.roomSettings({ slow_mode_s: v.slowModeS, mods_only: v.modsOnly, blocked_mode: v.blockedMode, user_rate_per_min: v.userRatePerMin });
      if (add.length || remove.length) await this.backend.roomBlockWords(add, remove);
      this.persist({ room: { slow_mode_s: v.slowModeS, mods_only: v.modsOnly, blocked_mode: v.blockedMode, blocked_words: [...after], user_rate_per_min: v.userRatePerMin } });
      this.notice = t('roomRules.saved');
    } catch (e) {
      this.error = toAppError(e);
    }
  }

  async startPoll(p: PollStart) {
    try {
      await this.backend.roomPollStart(p);
    } catch (e) {
      this.error = toAppError(e);
    }
  }

  async endPoll() {
    if (!this.poll) return;
    try {
      await this.backend.roomPollEnd(this.poll.poll);
    } catch (e) {
      this.error = toAppError(e);
    }
  }

  /** The streamer-facing text for the current error. */
  errorText(): string {
    const e = this.error;
    if (!e) return '';
    if (e.code === 'already_live' || e.code === 'not_live') return t(`error.${e.code}`);
    // What to do first, then what the engine said (it names the device, file or server).
    if (e.code === 'device' || e.code === 'network' || e.code === 'keychain') return `${t(`error.${e.code}`)} (${e.message})`;
    return e.message;
  }
}
