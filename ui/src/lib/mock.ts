// A backend without Rust: for component tests, flows in a browser, and `vite dev` outside
// Tauri. `demo` makes it behave like a live session with a busy room.

import type { AppSettings, Devices, GoLiveSettings, OutputState, Stats } from '../bindings';
import type { Backend, EventMap, Unlisten } from './ipc';

type Handlers = { [K in keyof EventMap]: Set<(p: EventMap[K]) => void> };

export interface MockBackend extends Backend {
  emit<K extends keyof EventMap>(event: K, payload: EventMap[K]): void;
  calls: { cmd: string; args?: unknown }[];
  settings: GoLiveSettings | null;
  saved: AppSettings;
}

export function defaultSettings(): AppSettings {
  return {
    video: 'test',
    audio: 'tone',
    width: 1280,
    height: 720,
    fps: 30,
    bitrate_kbps: 2500,
    encoder: 'x264',
    destinations: [],
    record: false,
    mic_gain_db: 0,
    language: null,
    theme: null,
    danmaku_overlay: true,
    first_run_done: true,
    room: { slow_mode_s: 0, mods_only: false, blocked_mode: 'mask', blocked_words: [], user_rate_per_min: 0 },
    source_mics: {},
    director: false,
    director_hold_s: 3,
  };
}

export const mockDevices: Devices = {
  cameras: [],
  microphones: [{ source: 'mic:default', name: 'Default microphone', is_default: true }],
};

export function mockStats(t: number, states: OutputState[], kbps = 2600): Stats {
  return {
    session_s: t,
    encoder: 'libx264',
    width: 1280,
    height: 720,
    fps: 30,
    target_fps: 30,
    dropped: { capture_queue_full: 0, render_lag: 0, encoder_lag: 0 },
    audio: [{ input: 'tone', peak_db: -6 - Math.random() * 3, rms_db: -14 - Math.random() * 4 }],
    destinations: states.map((state, i) => ({
      name: `rtmp://ingest-${i + 1}.example/live/****`,
      state,
      bytes: Math.round(t * kbps * 125),
      bitrate_kbps: state.state === 'live' ? kbps + Math.sin(t + i) * 180 : 0,
      dropped_video: 0,
      reconnects: 0,
      latency_p50_ms: 42,
    })),
    recording: null,
    cpu_percent: 38,
    rss_bytes: 182 * 1024 * 1024,
    director: null,
  };
}

export function createMockBackend(opts: { demo?: boolean; devices?: Devices; settings?: Partial<AppSettings> } = {}): MockBackend {
  const handlers: Handlers = {
    stats: new Set(),
    session_event: new Set(),
    room: new Set(),
    room_ready: new Set(),
    audio_level: new Set(),
  };
  let timer: ReturnType<typeof setInterval> | null = null;
  let t = 0;
  let seq = 1;
  const calls: { cmd: string; args?: unknown }[] = [];
  const room = { room: 'main', viewer_url: 'http://127.0.0.1:7717/room/main', ws_url: 'ws://127.0.0.1:7717/room/main/ws' };
  const backend: MockBackend = {
    calls,
    settings: null,
    saved: { ...defaultSettings(), ...opts.settings },
    emit(event, payload) {
      for (const h of handlers[event]) (h as (p: typeof payload) => void)(payload);
    },
    async appInfo() {
      calls.push({ cmd: 'app_info' });
      return { version: '0.1.0', locale: globalThis.navigator?.language ?? 'en', room };
    },
    async listDevices() {
      calls.push({ cmd: 'list_devices' });
      return opts.devices ?? mockDevices;
    },
    async saveHighlight(seconds) {
      calls.push({ cmd: 'save_highlight', args: { seconds } });
      return { path: `/home/me/Videos/Marquee/clips/highlight-${calls.length}.mp4`, duration_s: seconds, latency_ms: 40 };
    },
    async markHighlight(label) {
      calls.push({ cmd: 'mark_highlight', args: { label } });
      return t;
    },
    async switchScene(scene, transition) {
      calls.push({ cmd: 'switch_scene', args: { scene, transition } });
    },
    async setDirector(on) {
      calls.push({ cmd: 'set_director', args: { on } });
    },
    async goLive(settings) {
      calls.push({ cmd: 'go_live', args: settings });
      backend.settings = settings;
      t = 0;
      if (opts.demo) {
        timer = setInterval(() => {
          t += 1;
          const n = Math.max(1, settings.destinations.length);
          const states: OutputState[] = Array.from({ length: n }, (_, i) =>
            t < 2 ? { state: 'connecting', attempt: 1 } : i === 1 && t % 40 > 30 ? { state: 'reconnecting', attempt: 2, retry_in_ms: 800, reason: 'connection reset' } : { state: 'live' },
          );
          backend.emit('stats', mockStats(t, states));
          if (t % 2 === 0) {
            const names = ['小明', 'Ava', '阿杰', 'Kenji', '星星'];
            const texts = ['主播好!', 'hello from Berlin 👋', '这个画质好清晰', 'what camera is that?', '来了来了'];
            const i = seq % names.length;
            backend.emit('room', { kind: 'chat', id: seq++, at: Date.now(), user: { id: `v${i}`, name: names[i], role: 'viewer' }, text: texts[i], color: '#ffffff', mode: 'scroll', masked: false, deleted: false });
          }
          if (t % 9 === 0) {
            backend.emit('room', { kind: 'gift', seq: seq++, at: Date.now(), user: { id: 'v1', name: 'Ava', role: 'viewer' }, gift: 'rocket', count: 1, coins: 100, combo: 1 });
          }
        }, 1000);
      }
    },
    async endLive() {
      calls.push({ cmd: 'end_live' });
      if (timer) clearInterval(timer);
      timer = null;
      return { duration_s: t, frames: t * 30, recording: null };
    },
    async stats() {
      return mockStats(t, [{ state: 'live' }]);
    },
    async setStreamKey(name) {
      calls.push({ cmd: 'set_stream_key', args: { name } });
    },
    async streamKeyNames() {
      return ['main'];
    },
    async roomAttach() {
      calls.push({ cmd: 'room_attach' });
      return [];
    },
    async roomChat(text) {
      calls.push({ cmd: 'room_chat', args: { text } });
      backend.emit('room', { kind: 'chat', id: seq++, at: Date.now(), user: { id: 'host', name: 'Host', role: 'host' }, text, color: '#ffffff', mode: 'scroll', masked: false, deleted: false });
    },
    async roomDelete(id) {
      calls.push({ cmd: 'room_delete', args: { id } });
      backend.emit('room', { kind: 'chat_deleted', id });
    },
    async roomPollStart(poll) {
      calls.push({ cmd: 'room_poll_start', args: poll });
      backend.emit('room', { kind: 'poll', poll: { poll: seq++, question: poll.question, options: poll.options, tallies: poll.options.map(() => 0), ends_at: Date.now() + poll.duration_s * 1000, open: true } });
    },
    async roomPollEnd(poll) {
      calls.push({ cmd: 'room_poll_end', args: { poll } });
    },
    async roomModerate(action) {
      calls.push({ cmd: 'room_moderate', args: action });
      if (action.action === 'delete') backend.emit('room', { kind: 'chat_deleted', id: action.id });
      else backend.emit('room', { kind: 'moderated', action: action.action, user: action.user, until: action.action === 'timeout' ? Date.now() + action.seconds * 1000 : null, by: 'host' });
    },
    async roomSettings(patch) {
      calls.push({ cmd: 'room_settings', args: patch });
      const r = backend.saved.room;
      backend.emit('room', { kind: 'settings', settings: { slow_mode_s: patch.slow_mode_s ?? r.slow_mode_s, mods_only: patch.mods_only ?? r.mods_only, blocked_mode: patch.blocked_mode ?? r.blocked_mode, user_rate_per_min: patch.user_rate_per_min ?? r.user_rate_per_min } });
    },
    async roomBlockWords(add, remove) {
      calls.push({ cmd: 'room_block_words', args: { add, remove } });
    },
    async roomPinQuestion(question) {
      calls.push({ cmd: 'room_pin_question', args: { question } });
      backend.emit('room', { kind: 'question_pinned', question: question == null ? null : { question, user: { id: 'v1', name: 'Ava', role: 'viewer' }, text: 'question' } });
    },
    async roomLotteryStart(keyword, prize) {
      calls.push({ cmd: 'room_lottery_start', args: { keyword, prize } });
      backend.emit('room', { kind: 'lottery', lottery: { lottery: seq++, keyword, prize, seed: 'c0ffee', entrants: 0, open: true, winners: [] } });
    },
    async roomLotteryDraw(lottery, winners) {
      calls.push({ cmd: 'room_lottery_draw', args: { lottery, winners } });
      backend.emit('room', { kind: 'lottery', lottery: { lottery, keyword: 'k', prize: 'p', seed: 'c0ffee', entrants: 3, open: false, winners: ['Ava'].slice(0, winners) } });
    },
    async openPreview() {
      calls.push({ cmd: 'preview_open' });
    },
    previewAck() {},
    async previewSource(video) {
      calls.push({ cmd: 'preview_source', args: { video } });
    },
    async previewAudio(audio) {
      calls.push({ cmd: 'preview_audio', args: { audio } });
    },
    async testConnection(destination) {
      calls.push({ cmd: 'test_connection', args: destination });
      return { target: 'ingest.example:1935', address: '192.0.2.1:1935', dns_ms: 4, tcp_ms: 20, handshake_ms: 31 };
    },
    async loadSettings() {
      calls.push({ cmd: 'load_settings' });
      return structuredClone(backend.saved);
    },
    async saveSettings(settings) {
      calls.push({ cmd: 'save_settings', args: settings });
      backend.saved = structuredClone(settings);
    },
    async on(event, cb): Promise<Unlisten> {
      handlers[event].add(cb as never);
      return () => handlers[event].delete(cb as never);
    },
  };
  return backend;
}
