// Data the new components take in and hand out. Plain shapes: the studio store (or a test)
// builds them; the components never talk to IPC.

import type { GuestsSetting, RoomHomeSetting } from '../bindings';

/** One row of the chat list: a message or a gift, as the room store (lib/room.svelte.ts)
 *  builds it from a `room` event and the list, the danmaku overlay and the tests take it. */
export interface ChatRow {
  id: number;
  /** ms since the Unix epoch. */
  at: number;
  user: string;
  /** `host`, `moderator`, `guest` or `viewer`. */
  role: string;
  text: string;
  /** Danmaku colour, `#rrggbb`; white means "default". */
  color: string;
  deleted: boolean;
  /** The user's room id — needed for timeout/ban. */
  userId?: string;
  /** How it crosses the video (default `scroll`). */
  mode?: 'scroll' | 'top' | 'bottom';
  /** `gift` rows are highlighted; default `chat`. */
  kind?: 'chat' | 'gift';
  /** Gift id (`rose`) or name, for gift rows. */
  gift?: string;
  count?: number;
  /** The message is a question (the menu then offers "Pin as question"). */
  question?: boolean;
  /** From a platform's chat (`bilibili`, `twitch`, `youtube`), not the room. */
  platform?: string;
  /** A platform's bits, gift, paid message, membership or subscription: highlighted. */
  paid?: boolean;
  /** The platform source it came from (`twitch:CHANNEL`) and its ids there, for moderating it
   *  on the platform. */
  source?: string;
  messageId?: string | null;
  platformUserId?: string | null;
}

export type ChatAction = 'delete' | 'timeout_60' | 'timeout_600' | 'ban' | 'pin_question' | 'appoint' | 'unappoint' | 'hide_here';

/** A platform chat source's connection as the room panel shows it. */
export interface ChatSourceView {
  source: string;
  state: 'connecting' | 'live' | 'reconnecting' | 'failed';
  attempt: number | null;
  reason: string | null;
  /** How it reads when it settled for less (`bilibili_anonymous`…), and the platform's words. */
  noteCode: string | null;
  note: string | null;
}

/** Seconds of a timeout action, or null. */
export function timeoutSeconds(a: ChatAction): number | null {
  return a === 'timeout_60' ? 60 : a === 'timeout_600' ? 600 : null;
}

export interface DanmakuComment {
  id?: string | number;
  text: string;
  /** `#rrggbb`; default white. */
  color?: string;
  mode?: 'scroll' | 'top' | 'bottom';
  /** Drawn with a border (the host's own comment). */
  mine?: boolean;
  deleted?: boolean;
}

export interface GiftAlertData {
  /** Changes for every new alert (restarts the animation). */
  key: number | string;
  user: string;
  /** Gift id from the catalog (`rose`) or a display name. */
  gift: string;
  count: number;
  /** Sends of this gift by this user in the current combo window. */
  combo?: number;
  coins?: number;
  /** Art URL; default `${artBase}${gift}.svg`. */
  art?: string;
}

export interface QaQuestion {
  id: number;
  user: string;
  text: string;
  at: number;
  answered?: boolean;
}

/** The room crate's `LotteryInfo`, plus when it closes. */
export interface LotteryState {
  lottery: number;
  keyword: string;
  prize: string;
  /** SHA-256 of the seed, published at the start. */
  commitment: string;
  /** Revealed by the draw; the draw is reproducible from it and the entrants. */
  seed?: string | null;
  /** After the draw: whether the app checked it (null: not checked). */
  verified?: boolean | null;
  entrants: number;
  open: boolean;
  winners?: string[];
  winner_names?: string[];
  /** ms since the Unix epoch when entries close; null = until drawn. */
  ends_at?: number | null;
}

export interface LotteryStart {
  keyword: string;
  prize: string;
  /** 0 = open until the host draws. */
  duration_s: number;
}

export interface RoomSettingsValue {
  blockedWords: string[];
  blockedMode: 'mask' | 'reject';
  /** 0 = off. */
  slowModeS: number;
  modsOnly: boolean;
  /** Messages per viewer per minute; 0 = no limit. */
  userRatePerMin: number;
}

export interface DeviceOption {
  id: string;
  name: string;
}

export interface DestinationValue {
  url: string;
  /** Keychain entry name for the stream key; null when the URL holds the key. */
  key_name: string | null;
}

export interface VideoSettingsValue {
  width: number;
  height: number;
  fps: number;
  bitrate_kbps: number;
  /** `auto`, `x264`, or an FFmpeg encoder name. */
  encoder: string;
  /** Adaptive bitrate on, and its floor (null: a quarter of the bitrate, at least 300). */
  adaptive: boolean;
  min_kbps: number | null;
}

export interface OverlayValue {
  id: string;
  kind: 'text' | 'image' | 'danmaku';
  text: string;
  image: string;
  /** tl, tc, tr, cl, c, cr, bl, bc, br */
  place: string;
  enabled: boolean;
}

export interface AppSettingsValue {
  video: VideoSettingsValue;
  audio: {
    mic: string;
    gain_db: number;
    /** The microphone at each camera (scene source → audio source; absent = none). */
    cameraMics: Record<string, string>;
    /** Go live with director mode on. */
    director: boolean;
    /** Director mode's minimum time on one camera, seconds. */
    directorHoldS: number;
  };
  destinations: DestinationValue[];
  room: RoomSettingsValue;
  /** Where the room lives (the bindings' RoomHomeSetting). */
  roomHome: RoomHomeSetting;
  /** Burnt into the stream (the bindings' OverlaySetting). */
  overlays: OverlayValue[];
  /** Co-stream guests (the bindings' GuestsSetting). */
  guests: GuestsSetting;
  /** Platform chats read while live, `twitch:CHANNEL` … */
  chatSources: string[];
  /** The streamer's Twitch application's Client ID (for logging in to moderate). */
  twitchClientId: string;
  youtubeClientId: string;
  /** Network cameras: the UDP port of each SRT listener a phone pushes to. */
  networkCameras: number[];
  language: 'system' | 'en' | 'zh-CN';
  theme: 'system' | 'light' | 'dark';
}

export type TestResult = { ok: true } | { ok: false; reason: string };

export interface FirstRunResult {
  mode: 'live' | 'record';
  camera: string | null;
  mic: string | null;
  /** For `live`: where to, and the keychain name the key was saved under. */
  destination: DestinationValue | null;
  preset: string;
}
