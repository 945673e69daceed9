// A backend without Rust: for component tests, flows in a browser, and a plain browser
// outside Tauri (main.ts). `demo` makes it behave like a live session with a busy room. It
// implements the generated `Commands` (through `Backend`), so a command declared in
// src-tauri does not type-check here until the mock answers it too.

import type { AppError, AppSettings, LoginPlatform, LoginState, ClipInfo, Devices, GoLiveSettings, GuestInfo, GuestsView, OutputState, PlaybackUrl, RecordingInfo, RoomHomeSetting, RoomInfo, Stats, SuggestionItem } from '../bindings';
import { EVENT_NAMES } from '../bindings/events';
import type { Backend, EventMap, Unlisten } from './ipc';
import { defaultSettings } from './settings.svelte';

type Handlers = { [K in keyof EventMap]: Set<(p: EventMap[K]) => void> };

export interface MockBackend extends Backend {
  emit<K extends keyof EventMap>(event: K, payload: EventMap[K]): void;
  calls: { cmd: string; args?: unknown }[];
  settings: GoLiveSettings | null;
  saved: AppSettings;
  /** Seconds on air, while live (what `app_info` reports to a page that reloads). */
  liveS: number | null;
  /** The clip library (newest last in insertion order; listed newest first). */
  clips: ClipInfo[];
  recordings: RecordingInfo[];
  /** Suggestions per recording name (before decisions). */
  suggestionsByRecording: Record<string, SuggestionItem[]>;
  /** Decisions per recording: `from-to` → kept clip name, or null when discarded. */
  decisions: Record<string, Record<string, string | null>>;
  /** ms between export progress steps (10 per clip). */
  exportStepMs: number;
  /** The room's playback URLs (`room_playback`). */
  playback: PlaybackUrl[];
  /** The co-stream panel while live with guest slots (`guests`); tests add guests to it. */
  guestsView: GuestsView;
}

/** A guest as the mock's panel holds them (waiting in the green room unless said). */
export function mockGuest(session: number, slot: number, name: string, over: Partial<GuestInfo> = {}): GuestInfo {
  return { session, slot, name, state: 'waiting', connected: true, muted: false, hidden: false, volume_db: 0, level_db: -18, rtt_ms: 38, loss_pct: 0.4, nacks_per_s: 3, in_kbps: 1450, latency_ms: 31, ...over };
}

const noGuests = (): GuestsView => ({ slots: 0, layout: null, view: 'program', links: [], guests: [] });

const clipErr = (message: string): AppError => ({ code: 'clip', message });

/** The mock's preview picture: colour bars (an SVG data: URL stands in for the engine's stream). */
export const PREVIEW_PICTURE =
  'data:image/svg+xml,' +
  encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" width="640" height="360">' +
      ['#c0c0c0', '#c0c000', '#00c0c0', '#00c000', '#c000c0', '#c00000', '#0000c0', '#101010']
        .map((c, i) => `<rect x="${i * 80}" width="80" height="360" fill="${c}"/>`)
        .join('') +
      '</svg>',
  );

/** A few clips for the demo and the browser flows. */
export function demoClips(nowS = Math.floor(Date.now() / 1000)): ClipInfo[] {
  const c = (name: string, ago: number, duration_s: number, w = 1280, h = 720): ClipInfo => ({
    name,
    path: `/home/me/Videos/Marquee/clips/${name}`,
    duration_s,
    bytes: Math.round(duration_s * 330_000),
    created_unix_s: nowS - ago,
    width: w,
    height: h,
  });
  return [
    c('highlight-20261120-213012.mp4', 86_400, 30.4),
    c('Boss fight win.mp4', 7_200, 31.2),
    c('highlight-20261121-101544.mp4', 600, 30.9),
    c('broken-upload.mp4', 300, 0, 0, 0),
  ];
}

/** Suggestions for a demo recording. */
export function demoSuggestions(): SuggestionItem[] {
  return [
    { at_s: 1283, from_s: 1263, to_s: 1293, score: 8.4, reason: 'chat burst: 96 messages/s, 7.6× the usual 12.6/s; audio spike: -9 LUFS, 15 dB over the usual -24 LUFS', kept: null },
    { at_s: 2410, from_s: 2390, to_s: 2420, score: 5.0, reason: 'gifts worth 1000 (usual 3.2/s)', kept: null },
    { at_s: 3120, from_s: 3100, to_s: 3130, score: 3.0, reason: 'a lottery was drawn', kept: null },
    { at_s: 645, from_s: 625, to_s: 655, score: 3.0, reason: 'a vote closed', kept: null },
  ];
}

/** An SVG stand-in for a thumbnail (a test card tinted by the name). */
function mockThumb(name: string): string {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) % 360;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="180" viewBox="0 0 320 180"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="hsl(${h},70%,45%)"/><stop offset="1" stop-color="hsl(${(h + 60) % 360},70%,22%)"/></linearGradient></defs><rect width="320" height="180" fill="url(#g)"/><circle cx="250" cy="60" r="34" fill="rgba(255,255,255,.18)"/><rect x="24" y="118" width="150" height="14" rx="7" fill="rgba(255,255,255,.55)"/><rect x="24" y="140" width="96" height="10" rx="5" fill="rgba(255,255,255,.35)"/></svg>`;
}

/** SHA-256 of the mock's seed `c0ffee` (as the room computes a commitment). */
const MOCK_COMMITMENT = 'fb0288872031fc4818c03a7253bd3a78de192d05e6bccd09ceabeda65b4d7c6f';

const mmss = (s: number) => `${String(Math.floor(s / 60)).padStart(2, '0')}m${String(s % 60).padStart(2, '0')}s`;

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
      queued_ms: 40,
      rtt_ms: 28,
    })),
    recording: null,
    cpu_percent: 38,
    rss_bytes: 182 * 1024 * 1024,
    director: null,
    abr: states.length ? { target_kbps: kbps, min_kbps: 625, max_kbps: 2600, reason: kbps < 2600 ? 'queue_high' : null } : null,
  };
}

export function createMockBackend(
  opts: { demo?: boolean; devices?: Devices; settings?: Partial<AppSettings>; clips?: ClipInfo[]; recordings?: RecordingInfo[]; suggestions?: Record<string, SuggestionItem[]> } = {},
): MockBackend {
  const handlers = Object.fromEntries(EVENT_NAMES.map((e) => [e, new Set()])) as Handlers;
  let timer: ReturnType<typeof setInterval> | null = null;
  let t = 0;
  let seq = 1;
  // The room's appointed moderators, open invites and moderation log, as the mock keeps them.
  const staff: { moderators: { id: string; name: string }[]; invites: string[] } = { moderators: [], invites: [] };
  const modlog: { at: number; actor: string; action: string; target: string; detail: string }[] = [];
  let inviteSeq = 0;
  const calls: { cmd: string; args?: unknown }[] = [];
  let room: RoomInfo = { room: 'main', viewer_url: 'http://127.0.0.1:7717/room/main', ws_url: 'ws://127.0.0.1:7717/room/main/ws', home: 'this_computer', firewall: null };
  let hostKey = false;
  const loggedIn: Record<LoginPlatform, boolean> = { twitch: false, youtube: false };
  /** Where the room is for `h`, as the app would start it. */
  const roomAt = (h: RoomHomeSetting): RoomInfo => {
    if (h.mode === 'hosted') {
      const base = h.hosted_url.replace(/\/+$/, '');
      return { room: h.hosted_room, viewer_url: `${base}/room/${h.hosted_room}`, ws_url: `${base.replace(/^http/, 'ws')}/room/${h.hosted_room}/ws`, home: 'hosted', firewall: null };
    }
    const ip = h.mode === 'local_network' ? (h.lan_address ?? '192.168.1.20') : '127.0.0.1';
    const port = h.port ?? 7717;
    const firewall: RoomInfo['firewall'] = h.mode === 'local_network' ? { kind: 'may_block', by: 'ufw', allow: `sudo ufw allow ${port}/tcp` } : null;
    return { room: 'main', viewer_url: `http://${ip}:${port}/room/main`, ws_url: `ws://${ip}:${port}/room/main/ws`, home: h.mode, firewall };
  };
  const guestOf = (session: number): GuestInfo => {
    const g = backend.guestsView.guests.find((x) => x.session === session);
    if (!g) throw { code: 'guest', message: 'no such guest session' } satisfies AppError;
    return g;
  };
  const dropGuest = (session: number) => {
    guestOf(session);
    backend.guestsView.guests = backend.guestsView.guests.filter((x) => x.session !== session);
  };
  const backend: MockBackend = {
    calls,
    settings: null,
    saved: { ...defaultSettings(), ...opts.settings },
    liveS: null,
    clips: structuredClone(opts.clips ?? (opts.demo ? demoClips() : [])),
    recordings: structuredClone(opts.recordings ?? []),
    suggestionsByRecording: structuredClone(opts.suggestions ?? {}),
    decisions: {},
    exportStepMs: 20,
    playback: [],
    guestsView: noGuests(),
    emit(event, payload) {
      for (const h of handlers[event]) (h as (p: typeof payload) => void)(payload);
    },
    async appInfo() {
      calls.push({ cmd: 'app_info' });
      return { version: '0.1.0', locale: globalThis.navigator?.language ?? 'en', room, live_s: backend.liveS, on_air: backend.liveS == null ? null : (backend.settings?.video ?? 'test') };
    },
    async listDevices() {
      calls.push({ cmd: 'list_devices' });
      return opts.devices ?? mockDevices;
    },
    async saveHighlight(seconds) {
      calls.push({ cmd: 'save_highlight', args: { seconds } });
      const name = `highlight-${calls.length}.mp4`;
      const path = `/home/me/Videos/Marquee/clips/${name}`;
      backend.clips.push({ name, path, duration_s: seconds, bytes: seconds * 330_000, created_unix_s: Math.floor(Date.now() / 1000), width: 1280, height: 720 });
      return { path, duration_s: seconds, latency_ms: 40 };
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
    async setOverlay(id, on) {
      calls.push({ cmd: 'set_overlay', args: { id, on } });
    },
    async goLive(settings) {
      calls.push({ cmd: 'go_live', args: settings });
      backend.settings = settings;
      backend.liveS = 0;
      t = 0;
      const slots = settings.guests?.slots ?? 0;
      backend.guestsView = {
        slots,
        layout: slots ? settings.guests.layout : null,
        view: settings.guests?.view ?? 'program',
        links: Array.from({ length: slots }, (_, i) => ({ slot: i + 1, link: `${room.viewer_url}/join/mockInvite${i + 1}`, expires_in_s: 7200 })),
        guests: opts.demo && slots ? [mockGuest(1, 1, '小雨')] : [],
      };
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
      backend.liveS = null;
      backend.guestsView = noGuests();
      if (timer) clearInterval(timer);
      timer = null;
      if (!backend.settings?.record) return { duration_s: t, frames: t * 30, recording: null, signals: null };
      const name = `marquee-20261121-1015${String(backend.recordings.length).padStart(2, '0')}.mkv`;
      const recording = `/home/me/Videos/Marquee/${name}`;
      backend.recordings.unshift({ name, duration_s: t, bytes: t * 330_000, created_unix_s: Math.floor(Date.now() / 1000), has_signals: true });
      backend.suggestionsByRecording[name] ??= opts.demo ? demoSuggestions() : [];
      return { duration_s: t, frames: t * 30, recording, signals: `${recording}.signals.jsonl` };
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
      modlog.push({ at: Date.now(), actor: 'host', action: action.action, target: action.action === 'delete' ? String(action.id) : action.user, detail: action.action === 'timeout' ? `${action.seconds}s` : '' });
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
    async roomAppoint(user) {
      calls.push({ cmd: 'room_appoint', args: { user } });
      const name = user === 'v1' ? 'Ava' : user;
      staff.moderators = [...staff.moderators.filter((m) => m.id !== user), { id: user, name }];
      modlog.push({ at: Date.now(), actor: 'host', action: 'appoint', target: user, detail: '' });
      backend.emit('room', { kind: 'moderator', user, name, appointed: true, by: 'host' });
      backend.emit('room', { kind: 'staff', moderators: staff.moderators, invites: staff.invites });
    },
    async roomUnappoint(user) {
      calls.push({ cmd: 'room_unappoint', args: { user } });
      staff.moderators = staff.moderators.filter((m) => m.id !== user);
      modlog.push({ at: Date.now(), actor: 'host', action: 'unappoint', target: user, detail: '' });
      backend.emit('room', { kind: 'moderator', user, name: null, appointed: false, by: 'host' });
      backend.emit('room', { kind: 'staff', moderators: staff.moderators, invites: staff.invites });
    },
    async roomModInvite() {
      calls.push({ cmd: 'room_mod_invite' });
      const code = (++inviteSeq).toString(16).padStart(32, '0');
      staff.invites = [...staff.invites, code];
      backend.emit('room', { kind: 'mod_invite', code });
      backend.emit('room', { kind: 'staff', moderators: staff.moderators, invites: staff.invites });
    },
    async roomModInviteRevoke(code) {
      calls.push({ cmd: 'room_mod_invite_revoke', args: { code } });
      staff.invites = staff.invites.filter((c) => c !== code);
      backend.emit('room', { kind: 'staff', moderators: staff.moderators, invites: staff.invites });
    },
    async roomStaff() {
      calls.push({ cmd: 'room_staff' });
      backend.emit('room', { kind: 'staff', moderators: staff.moderators, invites: staff.invites });
    },
    async roomModerationLog(limit) {
      calls.push({ cmd: 'room_moderation_log', args: { limit } });
      backend.emit('room', { kind: 'mod_log', entries: modlog.slice(-limit) });
    },
    async roomPinQuestion(question) {
      calls.push({ cmd: 'room_pin_question', args: { question } });
      backend.emit('room', { kind: 'question_pinned', question: question == null ? null : { question, user: { id: 'v1', name: 'Ava', role: 'viewer' }, text: 'question' } });
    },
    async roomLotteryStart(keyword, prize) {
      calls.push({ cmd: 'room_lottery_start', args: { keyword, prize } });
      backend.emit('room', { kind: 'lottery', lottery: { lottery: seq++, keyword, prize, commitment: MOCK_COMMITMENT, seed: null, entrants: 0, open: true, winners: [], verified: null } });
    },
    async roomLotteryDraw(lottery, winners) {
      calls.push({ cmd: 'room_lottery_draw', args: { lottery, winners } });
      backend.emit('room', { kind: 'lottery', lottery: { lottery, keyword: 'k', prize: 'p', commitment: MOCK_COMMITMENT, seed: 'c0ffee', entrants: 3, open: false, winners: ['Ava'].slice(0, winners), verified: true } });
    },
    async roomPlayback() {
      calls.push({ cmd: 'room_playback' });
      return structuredClone(backend.playback);
    },
    async roomSetPlayback(urls) {
      calls.push({ cmd: 'room_set_playback', args: { urls } });
      const kept = urls.map((u) => ({ name: u.name.trim(), url: u.url.trim() })).filter((u) => u.url);
      const bad = kept.findIndex((u) => !/^https?:\/\/[^/\s@]+/i.test(u.url));
      if (bad >= 0) throw { code: 'settings', message: `playback URL ${bad + 1}: ${kept[bad].url} is not an http:// or https:// URL` } satisfies AppError;
      if (kept.length > 8) throw { code: 'settings', message: `at most 8 playback URLs (got ${kept.length})` } satisfies AppError;
      backend.playback = kept;
      return structuredClone(kept);
    },
    async previewUrl() {
      calls.push({ cmd: 'preview_url' });
      return PREVIEW_PICTURE;
    },
    async previewInfo() {
      return { url: PREVIEW_PICTURE, fps: 30, encode_ms: 1.6, ready_ms: 12, clock_origin_unix_ms: 0, viewers: 1, sent: 900, busy: 0, refused: 0 };
    },
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
      const moved = JSON.stringify(settings.room_home) !== JSON.stringify(backend.saved.room_home);
      backend.saved = structuredClone(settings);
      if (moved) {
        room = roomAt(settings.room_home);
        queueMicrotask(() => backend.emit('room_ready', room));
      }
      return structuredClone(settings);
    },
    async roomInterfaces() {
      calls.push({ cmd: 'room_interfaces' });
      return [
        { name: 'wlan0', address: '192.168.1.20', default_route: true },
        { name: 'eth0', address: '10.0.0.5', default_route: false },
        { name: 'wlan0', address: '2001:db8::20', default_route: false },
      ];
    },
    async setRoomHostKey(key) {
      // The key itself is not recorded: it goes to the keychain only.
      calls.push({ cmd: 'set_room_host_key' });
      if (!key.startsWith('mq1.')) throw { code: 'settings', message: 'that is not a host key: a host key starts with mq1.' };
      hostKey = true;
    },
    async setNetworkCameraPassphrase(port, passphrase) {
      // The passphrase itself is not recorded: it goes to the keychain only.
      calls.push({ cmd: 'set_network_camera_passphrase', args: { port, set: passphrase != null } });
      if (passphrase != null && (passphrase.length < 10 || passphrase.length > 79)) throw { code: 'settings', message: 'an SRT passphrase is 10 to 79 characters' };
      for (const c of (opts.devices ?? mockDevices).cameras) if (c.source === `srt://0.0.0.0:${port}?mode=listener`) c.passphrase = passphrase != null;
    },
    async roomHostKeyStored() {
      return hostKey;
    },
    async platformLogin(platform, clientId, clientSecret) {
      calls.push({ cmd: 'platform_login', args: { platform, clientId, clientSecret } });
      const tell = (state: LoginState) => backend.emit('platform_login', { platform, state });
      setTimeout(() => {
        if (!clientId.trim() || (platform === 'youtube' && !clientSecret.trim())) {
          tell({ state: 'failed', reason: platform === 'youtube' ? 'YouTube: an OAuth client ID and its secret are needed to log in' : 'Twitch: a client ID is needed to log in' });
          return;
        }
        const uri = platform === 'youtube' ? 'https://www.google.com/device' : 'https://www.twitch.tv/activate?public=true&device-code=ABCDEFGH';
        tell({ state: 'waiting', code: platform === 'youtube' ? 'GQVQ-JKEC' : 'ABCDEFGH', uri });
        setTimeout(() => {
          loggedIn[platform] = true;
          tell({ state: 'done' });
        }, 20);
      }, 0);
    },
    async platformLogout(platform) {
      calls.push({ cmd: 'platform_logout', args: { platform } });
      loggedIn[platform] = false;
    },
    async platformLoggedIn(platform) {
      return loggedIn[platform];
    },
    async platformModerate(action) {
      calls.push({ cmd: 'platform_moderate', args: action });
      if (action.source.startsWith('youtube:')) {
        if (!loggedIn.youtube) throw { code: 'platform', message: 'YouTube: not logged in to moderate (Settings → Chat sources)' } satisfies AppError;
        return;
      }
      if (!action.source.startsWith('twitch:')) throw { code: 'platform', message: 'bilibili: Marquee cannot moderate there (no API it can call): hidden here only' } satisfies AppError;
      if (!loggedIn.twitch) throw { code: 'platform', message: 'Twitch: not logged in to moderate (Settings → Chat sources)' } satisfies AppError;
    },
    async clipList() {
      calls.push({ cmd: 'clip_list' });
      return structuredClone(backend.clips).sort((a, b) => b.created_unix_s - a.created_unix_s || b.name.localeCompare(a.name));
    },
    async guests() {
      calls.push({ cmd: 'guests' });
      if (backend.liveS == null) throw { code: 'not_live', message: 'not live' } satisfies AppError;
      const v = backend.guestsView;
      if (opts.demo) for (const g of v.guests) g.level_db = -40 + Math.random() * 30;
      return structuredClone(v);
    },
    async guestNewLink(slot) {
      calls.push({ cmd: 'guest_new_link', args: { slot } });
      const l = backend.guestsView.links.find((x) => x.slot === slot);
      if (!l) throw { code: 'guest', message: `there is no guest slot ${slot}` } satisfies AppError;
      l.link = `${room.viewer_url}/join/mockInvite${slot}-${calls.length}`;
      return { ...l };
    },
    async guestAdmit(session) {
      calls.push({ cmd: 'guest_admit', args: { session } });
      guestOf(session).state = 'on_air';
    },
    async guestDecline(session) {
      calls.push({ cmd: 'guest_decline', args: { session } });
      dropGuest(session);
    },
    async guestRemove(session) {
      calls.push({ cmd: 'guest_remove', args: { session } });
      dropGuest(session);
    },
    async guestMute(session, muted) {
      calls.push({ cmd: 'guest_mute', args: { session, muted } });
      guestOf(session).muted = muted;
    },
    async guestHide(session, hidden) {
      calls.push({ cmd: 'guest_hide', args: { session, hidden } });
      guestOf(session).hidden = hidden;
    },
    async guestVolume(session, db) {
      calls.push({ cmd: 'guest_volume', args: { session, db } });
      guestOf(session).volume_db = Math.max(-60, Math.min(12, db));
    },
    async guestLayout(layout) {
      calls.push({ cmd: 'guest_layout', args: { layout } });
      backend.guestsView.layout = layout;
    },
    async guestView(view) {
      calls.push({ cmd: 'guest_view', args: { view } });
      backend.guestsView.view = view;
    },
    async guestThumbnail(session) {
      calls.push({ cmd: 'guest_thumbnail', args: { session } });
      return new TextEncoder().encode(mockThumb(guestOf(session).name)).buffer as ArrayBuffer;
    },
    async clipThumbnail(name) {
      calls.push({ cmd: 'clip_thumbnail', args: { name } });
      const c = backend.clips.find((x) => x.name === name);
      if (!c) throw clipErr(`“${name}” is no longer in the clips folder (moved or deleted?). Refresh the list.`);
      if (!c.width) throw clipErr(`No picture could be read from “${name}” for its thumbnail.`);
      return new TextEncoder().encode(mockThumb(name)).buffer as ArrayBuffer;
    },
    async clipOpen(name) {
      calls.push({ cmd: 'clip_open', args: { name } });
    },
    async clipRename(name, newName) {
      calls.push({ cmd: 'clip_rename', args: { name, newName } });
      const c = backend.clips.find((x) => x.name === name);
      if (!c) throw clipErr(`“${name}” is no longer in the clips folder (moved or deleted?). Refresh the list.`);
      const n = newName.trim();
      if (!n) throw clipErr('Type a name for the clip.');
      const target = /\.(mp4|mkv|mov|flv)$/i.test(n) ? n : `${n}.${name.split('.').pop()}`;
      if (target !== name && backend.clips.some((x) => x.name === target)) throw clipErr(`A clip named “${target}” is already in the library. Pick another name.`);
      c.name = target;
      c.path = c.path.replace(/[^/]*$/, target);
      return structuredClone(c);
    },
    async clipDelete(name) {
      calls.push({ cmd: 'clip_delete', args: { name } });
      const i = backend.clips.findIndex((x) => x.name === name);
      if (i < 0) throw clipErr(`“${name}” is no longer in the clips folder (moved or deleted?). Refresh the list.`);
      backend.clips.splice(i, 1);
    },
    async clipExport(names, onProgress) {
      calls.push({ cmd: 'clip_export', args: { names } });
      const report = { exported: [] as { name: string; output: string }[], failed: [] as { name: string; reason: string }[] };
      for (const [index, name] of names.entries()) {
        const c = backend.clips.find((x) => x.name === name);
        if (!c) {
          report.failed.push({ name, reason: `“${name}” is no longer in the clips folder (moved or deleted?). Refresh the list.` });
          continue;
        }
        for (let k = 0; k <= 10; k++) {
          if (!c.width && k === 3) break;
          onProgress({ index, total: names.length, name, fraction: k / 10 });
          await new Promise((r) => setTimeout(r, backend.exportStepMs));
        }
        if (!c.width) {
          report.failed.push({ name, reason: `The vertical version could not be made: ${name} has no video picture` });
          continue;
        }
        const output = `${name.replace(/\.[^.]+$/, '')}-vertical.mp4`;
        backend.clips.push({ ...c, name: output, path: c.path.replace(/[^/]*$/, output), width: 720, height: 1280, created_unix_s: Math.floor(Date.now() / 1000) });
        report.exported.push({ name, output });
      }
      return report;
    },
    async recordingsList() {
      calls.push({ cmd: 'recordings_list' });
      return structuredClone(backend.recordings);
    },
    async suggestions(recording) {
      calls.push({ cmd: 'suggestions', args: { recording } });
      const rec = backend.recordings.find((r) => r.name === recording);
      if (!rec) throw clipErr(`The recording “${recording}” is not in the recordings folder any more. Pick another one.`);
      const d = backend.decisions[recording] ?? {};
      const all = backend.suggestionsByRecording[recording] ?? [];
      const items = all.filter((s) => d[`${s.from_s}-${s.to_s}`] !== null).map((s) => ({ ...s, kept: d[`${s.from_s}-${s.to_s}`] ?? null }));
      return { recording, has_signals: rec.has_signals, items, discarded: all.length - items.length };
    },
    async suggestionKeep(recording, fromS, toS) {
      calls.push({ cmd: 'suggestion_keep', args: { recording, fromS, toS } });
      const name = `${recording.replace(/\.[^.]+$/, '')}-${mmss(fromS)}-${mmss(toS)}.mp4`;
      const clip: ClipInfo = { name, path: `/home/me/Videos/Marquee/clips/${name}`, duration_s: toS - fromS, bytes: (toS - fromS) * 330_000, created_unix_s: Math.floor(Date.now() / 1000), width: 1280, height: 720 };
      backend.clips.push(clip);
      (backend.decisions[recording] ??= {})[`${fromS}-${toS}`] = name;
      return structuredClone(clip);
    },
    async suggestionDiscard(recording, fromS, toS) {
      calls.push({ cmd: 'suggestion_discard', args: { recording, fromS, toS } });
      (backend.decisions[recording] ??= {})[`${fromS}-${toS}`] = null;
    },
    async on(event, cb): Promise<Unlisten> {
      handlers[event].add(cb as never);
      return () => handlers[event].delete(cb as never);
    },
  };
  return backend;
}
