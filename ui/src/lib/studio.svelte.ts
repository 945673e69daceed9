// The studio's state: what is live, the stats history, the room. Components read it; only its
// methods talk to the backend.

import type {
  AppError,
  Devices,
  DestinationSetting,
  OutputState,
  Poll,
  PollStart,
  RoomEvent,
  RoomInfo,
  SessionEvent,
  Stats,
} from '../bindings';
import { i18n, t, formatDuration } from './i18n.svelte';
import { toAppError, type Backend, type Unlisten } from './ipc';

export type Phase = 'idle' | 'starting' | 'live' | 'ending';

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
}

export interface GiftItem {
  key: number;
  at: number;
  user: string;
  gift: string;
  count: number;
  coins: number;
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
  chat = $state<ChatItem[]>([]);
  gifts = $state<GiftItem[]>([]);
  giftAlert = $state<GiftItem | null>(null);
  poll = $state<Poll | null>(null);
  viewers = $state(0);

  private unlisten: Unlisten[] = [];
  private tick: ReturnType<typeof setInterval> | null = null;
  private giftSeq = 0;
  private giftTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private backend: Backend) {}

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
    this.unlisten.push(
      await b.on('stats', (s) => this.applyStats(s)),
      await b.on('session_event', (e) => {
        this.events = [...this.events.slice(-199), e];
      }),
      await b.on('room', (e) => this.applyRoom(e)),
      await b.on('room_ready', (r) => {
        this.room = r;
        this.roomDown = null;
      }),
    );
    try {
      const info = await b.appInfo();
      i18n.followOs(info.locale);
      if (info.room) this.room = info.room;
    } catch (e) {
      this.error = toAppError(e);
    }
    await this.refreshDevices();
  }

  dispose() {
    this.unlisten.forEach((u) => u());
    this.unlisten = [];
    if (this.tick) clearInterval(this.tick);
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

  selectScene(id: string) {
    if (this.phase !== 'idle') {
      this.notice = t('scenes.lockedLive');
      return;
    }
    if (this.scenes.some((s) => s.id === id)) this.sceneId = id;
  }

  /** Keyboard shortcut 1–9 → scene. Returns whether it was handled. */
  shortcut(key: string): boolean {
    if (!/^[1-9]$/.test(key)) return false;
    const s = this.scenes[Number(key) - 1];
    if (!s) return false;
    this.selectScene(s.id);
    return true;
  }

  saveDestinations(list: DestinationSetting[]) {
    this.destinations = list;
    try {
      globalThis.localStorage?.setItem(DEST_KEY, JSON.stringify(list));
    } catch {
      /* not remembered */
    }
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
    try {
      await this.backend.goLive({
        video: scene.source,
        audio: this.audio,
        destinations: $state.snapshot(this.destinations),
        record: this.record,
        record_path: null,
        width: 1280,
        height: 720,
        fps: 30,
        bitrate_kbps: 2500,
        encoder: 'x264',
      });
      this.phase = 'live';
      this.startedAt = Date.now();
      this.now = this.startedAt;
      this.tick = setInterval(() => (this.now = Date.now()), 250);
    } catch (e) {
      this.phase = 'idle';
      this.error = toAppError(e);
    }
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
    } catch (e) {
      this.error = toAppError(e);
    } finally {
      if (this.tick) clearInterval(this.tick);
      this.tick = null;
      this.phase = 'idle';
      this.startedAt = null;
      this.stats = null;
      this.history = [];
    }
  }

  applyStats(s: Stats) {
    this.stats = s;
    const next = s.destinations.map((d, i) => [...(this.history[i] ?? []), d.bitrate_kbps].slice(-HISTORY));
    this.history = next;
  }

  applyRoom(e: RoomEvent) {
    switch (e.kind) {
      case 'joined':
        this.chat = [];
        this.viewers = e.viewers;
        this.poll = e.poll;
        this.roomDown = null;
        break;
      case 'chat': {
        const item = { id: e.id, at: e.at, user: e.user.name, role: e.user.role, text: e.text, color: e.color, deleted: e.deleted };
        this.chat = this.chat.length >= CHAT_KEEP ? [...this.chat.slice(1), item] : [...this.chat, item];
        break;
      }
      case 'chat_deleted':
        this.chat = this.chat.map((c) => (c.id === e.id ? { ...c, deleted: true, text: '' } : c));
        break;
      case 'gift': {
        const g = { key: ++this.giftSeq, at: e.at, user: e.user.name, gift: e.gift, count: e.count, coins: e.coins };
        this.gifts = [g, ...this.gifts].slice(0, 500);
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
        this.viewers = e.count;
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

  async deleteChat(id: number) {
    try {
      await this.backend.roomDelete(id);
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
    return e.message;
  }
}
