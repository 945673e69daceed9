// Typed IPC: every command and event the app speaks, over Tauri or over a mock (tests and a
// plain browser). Types come from `../bindings` (generated from the Rust types).

import type {
  AppError,
  AppInfo,
  AppSettings,
  AudioLevel,
  ClipInfo,
  DestinationSetting,
  ExportProgress,
  ExportReport,
  RecordingInfo,
  SuggestionList,
  Devices,
  Moderation,
  Preflight,
  RoomSettingsPatch,
  GoLiveSettings,
  HighlightSaved,
  LiveSummary,
  PollStart,
  PreviewInfo,
  RoomEvent,
  RoomInfo,
  SessionEvent,
  Stats,
} from '../bindings';

/** Events the app emits, by name. */
export interface EventMap {
  stats: Stats;
  session_event: SessionEvent;
  room: RoomEvent;
  room_ready: RoomInfo;
  /** Levels of the input measured with `previewAudio` (before going live). */
  audio_level: AudioLevel;
}

export type Unlisten = () => void;

export interface Backend {
  appInfo(): Promise<AppInfo>;
  listDevices(): Promise<Devices>;
  goLive(settings: GoLiveSettings): Promise<void>;
  /** While live: put a scene (a source id) on air with `cut`, `fade[:MS]` or `slide[:MS]`. */
  switchScene(scene: string, transition: string): Promise<void>;
  /** Director mode on/off while live (it picks the camera whose microphone is loudest). */
  setDirector(on: boolean): Promise<void>;
  /** Shows or hides a burnt-in overlay while live. */
  setOverlay(id: string, on: boolean): Promise<void>;
  /** While live: the last `seconds` as an MP4 clip. */
  saveHighlight(seconds: number): Promise<HighlightSaved>;
  /** While live: a mark now; its session time in seconds. */
  markHighlight(label: string): Promise<number>;
  endLive(): Promise<LiveSummary>;
  stats(): Promise<Stats>;
  setStreamKey(name: string, key: string): Promise<void>;
  streamKeyNames(): Promise<string[]>;
  /** The room as the host last joined it (its first `joined` event usually comes before the page listens). */
  /** The room so far (latest `joined` + events since), then live `room` events; null while the room starts. */
  roomAttach(): Promise<RoomEvent[] | null>;
  roomChat(text: string): Promise<void>;
  roomDelete(id: number): Promise<void>;
  roomPollStart(poll: PollStart): Promise<void>;
  roomPollEnd(poll: number): Promise<void>;
  roomModerate(action: Moderation): Promise<void>;
  roomSettings(patch: RoomSettingsPatch): Promise<void>;
  roomBlockWords(add: string[], remove: string[]): Promise<void>;
  /** Shows a question on screen; null takes it down. */
  roomPinQuestion(question: number | null): Promise<void>;
  roomLotteryStart(keyword: string, prize: string): Promise<void>;
  roomLotteryDraw(lottery: number, winners: number): Promise<void>;
  /** The preview stream's address: an MJPEG `<img>` source on localhost (see src-tauri/src/preview.rs). */
  previewUrl(): Promise<string>;
  /** The preview's rate and times as the engine measures them. */
  previewInfo(): Promise<PreviewInfo>;
  /** Shows a source in the preview without going live (null: none). */
  previewSource(video: string | null): Promise<void>;
  /** Measures an audio input (`audio_level` events) without going live (null: stop). */
  previewAudio(audio: string | null): Promise<void>;
  /** DNS + TCP + RTMP handshake to a destination, without publishing. */
  testConnection(destination: DestinationSetting): Promise<Preflight>;
  loadSettings(): Promise<AppSettings>;
  saveSettings(settings: AppSettings): Promise<void>;
  /** Clips in the library, newest first. */
  clipList(): Promise<ClipInfo[]>;
  /** An image URL for the clip's thumbnail (a `blob:` URL in the app: revoke it when done). */
  clipThumbnail(name: string): Promise<string>;
  /** Opens the clip in the system's video player. */
  clipOpen(name: string): Promise<void>;
  clipRename(name: string, newName: string): Promise<ClipInfo>;
  clipDelete(name: string): Promise<void>;
  /** 9:16 export of each clip, one after the other; progress as frames are encoded. */
  clipExport(names: string[], onProgress: (p: ExportProgress) => void): Promise<ExportReport>;
  /** Recordings in the recordings folder, newest first. */
  recordingsList(): Promise<RecordingInfo[]>;
  /** Highlight suggestions of a recording (by file name); discarded ones left out. */
  suggestions(recording: string): Promise<SuggestionList>;
  /** Cuts a suggested range into the library. */
  suggestionKeep(recording: string, fromS: number, toS: number): Promise<ClipInfo>;
  /** Hides a suggestion for good. */
  suggestionDiscard(recording: string, fromS: number, toS: number): Promise<void>;
  on<K extends keyof EventMap>(event: K, cb: (payload: EventMap[K]) => void): Promise<Unlisten>;
}

/** Whatever a command rejected with, as the app's one error type. */
export function toAppError(e: unknown): AppError {
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) {
    return { code: (e as AppError).code, message: String((e as AppError).message) };
  }
  return { code: 'internal', message: e instanceof Error ? e.message : String(e) };
}

export function isTauri(): boolean {
  return typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window;
}

/** The real backend: Tauri commands and events. */
export async function tauriBackend(): Promise<Backend> {
  const { invoke, Channel } = await import('@tauri-apps/api/core');
  const { listen } = await import('@tauri-apps/api/event');
  const call = async <T>(cmd: string, args?: Record<string, unknown>): Promise<T> => {
    try {
      return await invoke<T>(cmd, args);
    } catch (e) {
      throw toAppError(e);
    }
  };
  return {
    appInfo: () => call('app_info'),
    listDevices: () => call('list_devices'),
    goLive: (settings) => call('go_live', { settings }),
    switchScene: (scene, transition) => call('switch_scene', { scene, transition }),
    setDirector: (on) => call('set_director', { on }),
    setOverlay: (id, on) => call('set_overlay', { id, on }),
    saveHighlight: (seconds) => call('save_highlight', { seconds }),
    markHighlight: (label) => call('mark_highlight', { label }),
    endLive: () => call('end_live'),
    stats: () => call('stats'),
    setStreamKey: (name, key) => call('set_stream_key', { name, key }),
    streamKeyNames: () => call('stream_key_names'),
    roomAttach: () => call('room_attach'),
    roomChat: (text) => call('room_chat', { text }),
    roomDelete: (id) => call('room_delete', { id }),
    roomPollStart: (poll) => call('room_poll_start', { poll }),
    roomPollEnd: (poll) => call('room_poll_end', { poll }),
    roomModerate: (action) => call('room_moderate', { action }),
    roomSettings: (patch) => call('room_settings', { patch }),
    roomBlockWords: (add, remove) => call('room_block_words', { add, remove }),
    roomPinQuestion: (question) => call('room_pin_question', { question }),
    roomLotteryStart: (keyword, prize) => call('room_lottery_start', { keyword, prize }),
    roomLotteryDraw: (lottery, winners) => call('room_lottery_draw', { lottery, winners }),
    previewUrl: () => call('preview_url'),
    previewInfo: () => call('preview_info'),
    previewSource: (video) => call('preview_source', { video }),
    previewAudio: (audio) => call('preview_audio', { audio }),
    testConnection: (destination) => call('test_connection', { destination }),
    loadSettings: () => call('load_settings'),
    saveSettings: (settings) => call('save_settings', { settings }),
    clipList: () => call('clip_list'),
    // Raw JPEG bytes over IPC (see `clip_thumbnail` in src-tauri/src/commands.rs): a Blob URL
    // is allowed by the CSP (`img-src blob:`) and needs no filesystem scope.
    clipThumbnail: async (name) => {
      const buf = await call<ArrayBuffer>('clip_thumbnail', { name });
      return URL.createObjectURL(new Blob([buf], { type: 'image/jpeg' }));
    },
    clipOpen: (name) => call('clip_open', { name }),
    clipRename: (name, newName) => call('clip_rename', { name, newName }),
    clipDelete: (name) => call('clip_delete', { name }),
    clipExport: async (names, onProgress) => {
      const progress = new Channel<ExportProgress>();
      progress.onmessage = onProgress;
      return call('clip_export', { names, progress });
    },
    recordingsList: () => call('recordings_list'),
    suggestions: (recording) => call('suggestions', { recording }),
    suggestionKeep: (recording, fromS, toS) => call('suggestion_keep', { recording, fromS, toS }),
    suggestionDiscard: (recording, fromS, toS) => call('suggestion_discard', { recording, fromS, toS }),
    on: (event, cb) => listen(event, (e) => cb(e.payload as never)),
  };
}
