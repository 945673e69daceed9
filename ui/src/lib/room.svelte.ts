// The embedded room as the host sees it: chat, gifts, polls, Q&A, lottery, rules and
// moderation (the `room` and `room_ready` events, the `room_*` commands:
// src-tauri/src/commands/room.rs).

import type { ChatSourceState, LoginPlatform, LoginState, PlatformLogin, GiftDef, Lottery, ModLogEntry, PlatformChatBatch, Poll, PollStart, RoomEvent, RoomInfo, RoomSettings, StaffMember } from '../bindings';
import type { ChatAction, ChatRow, ChatSourceView, QaQuestion, RoomSettingsValue } from '../components/types';
import type { AppStore } from './app.svelte';
import { i18n, type MessageKey, t } from './i18n.svelte';
import { STRINGS } from './strings';
import type { SettingsStore } from './settings.svelte';

/** Chat messages kept in memory (the list is virtualised: only the rows in view render). */
export const CHAT_KEEP = 100_000;

/** The platforms the app logs in to, to moderate their chat. */
export const LOGIN_PLATFORMS: readonly LoginPlatform[] = ['twitch', 'youtube'];

/** A gift in the gifts list (and the alert over the preview). */
export interface GiftItem {
  combo?: number;
  key: number;
  at: number;
  user: string;
  gift: string;
  count: number;
  coins: number;
}

/** Room events a moderation log entry comes with: the log is fetched again after them. */
const MODERATION_KINDS = new Set<RoomEvent['kind']>(['chat_deleted', 'moderated', 'settings', 'blocked_words', 'question_pinned', 'moderator']);

export class RoomStore {
  /** Where viewers watch, once the room server is up. */
  info = $state<RoomInfo | null>(null);
  /** Why the host connection is down (it reconnects by itself), or null. */
  down = $state<string | null>(null);
  /** What to fix when it is down (`unreachable`, `certificate`, `host_key`, `refused`), or null. */
  problem = $state<string | null>(null);
  /** When it retries (ms since the epoch), or null: not retrying. */
  retryAt = $state<number | null>(null);
  /** Oldest first; mutated in place (a 100k backlog is never copied per message): read
   *  `chatRevision` to react to it. */
  chat = $state.raw<ChatRow[]>([]);
  /** Bumped on every chat change (the virtualised list re-reads then). */
  chatRevision = $state(0);
  /** Platform chat sources of the show on air, by source (`twitch:name`). */
  sources = $state<Record<string, ChatSourceView>>({});
  /** Platform lines the app left out in a flood (counted, shown). */
  platformDropped = $state(0);
  /** Per platform: a login is kept, and how the latest login went (null: none started). */
  logins = $state<Record<LoginPlatform, { loggedIn: boolean; state: LoginState | null }>>({
    twitch: { loggedIn: false, state: null },
    youtube: { loggedIn: false, state: null },
  });
  /** Platform lines received this show (with the dropped ones: what the platforms sent). */
  platformReceived = $state(0);
  /** Platform rows sit after the newest room message: its id plus a fraction, so ids keep
   *  growing for the list and for deletions. */
  private lastRoomId = 0;
  private platformSeq = 0;
  gifts = $state<GiftItem[]>([]);
  giftAlert = $state<GiftItem | null>(null);
  poll = $state<Poll | null>(null);
  viewers = $state(0);
  catalog = $state<GiftDef[]>([]);
  questions = $state<QaQuestion[]>([]);
  pinned = $state<number | null>(null);
  lottery = $state<Lottery | null>(null);
  /** When a timed lottery closes (ms), or null: open until the host draws. */
  lotteryEndsAt = $state<number | null>(null);
  rules = $state<RoomSettings>({ slow_mode_s: 0, mods_only: false, blocked_mode: 'mask', user_rate_per_min: 0 });
  /** Users timed out (until, ms) or banned (Infinity) in this session, by id. */
  muted = $state<Record<string, number>>({});
  /** Moderators the host appointed (people, by user id) and the open invite codes. */
  moderators = $state<StaffMember[]>([]);
  invites = $state<string[]>([]);
  /** Ids of `moderators`, for the chat menu. */
  moderatorIds = $derived(new Set(this.moderators.map((m) => m.id)));
  /** The latest invite link made here (shown until the next one). */
  inviteLink = $state<string | null>(null);
  /** The moderation log, oldest first (who did what to whom, when). */
  modlog = $state<ModLogEntry[]>([]);
  /** Called with a message id when a moderator deleted it (the danmaku overlay takes it off). */
  readonly onDeleted = new Set<(id: number) => void>();

  /** The panel has its history and gets live events (see `attach`). */
  private attached = false;
  /** Replaying history: old gifts go into the lists without an alert. */
  private replaying = false;
  private giftSeq = 0;
  private giftTimer: ReturnType<typeof setTimeout> | null = null;
  private lotteryTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private app: AppStore,
    private settings: SettingsStore,
  ) {}

  private get backend() {
    return this.app.backend;
  }

  /** The room server is up (`room_ready`): attach if the room was still starting. */
  ready(info: RoomInfo) {
    // Another room (where it lives changed): what the panel showed was the old room's.
    const moved = this.info !== null && this.info.viewer_url !== info.viewer_url;
    this.info = info;
    this.down = null;
    this.problem = null;
    this.retryAt = null;
    if (moved) {
      this.gifts = [];
      this.questions = [];
      this.attached = false;
    }
    if (!this.attached) void this.attach();
  }

  /** Replays the room so far (chat history included: it arrived before this page listened,
   * or before a reload) and turns on live `room` events; again on `room_ready` if the room
   * was still starting. */
  async attach() {
    const replay = await this.backend.roomAttach();
    if (replay === null) return;
    this.attached = true;
    this.replaying = true;
    try {
      for (const e of replay) this.apply(e);
    } finally {
      this.replaying = false;
    }
  }

  apply(e: RoomEvent) {
    if (!this.replaying && MODERATION_KINDS.has(e.kind)) this.logSoon();
    switch (e.kind) {
      case 'joined':
        this.chat = [];
        this.chatRevision++;
        this.viewers = Math.max(0, e.viewers - 1);
        this.poll = e.poll;
        this.rules = e.settings;
        this.pinned = e.pinned?.question ?? null;
        this.lottery = e.lottery;
        this.catalog = e.catalog;
        this.down = null;
        this.problem = null;
        this.retryAt = null;
        if (!this.replaying) void this.refreshStaff();
        break;
      case 'chat':
        this.pushChat({
          id: e.id,
          at: e.at,
          user: e.user.name,
          role: e.user.role,
          text: e.text,
          color: e.color,
          deleted: e.deleted,
          userId: e.user.id,
          mode: e.mode === 'top' || e.mode === 'bottom' ? e.mode : 'scroll',
        });
        break;
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
        this.rules = e.settings;
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
        this.down = e.reason;
        this.problem = e.problem;
        this.retryAt = e.retrying && e.retry_in_ms != null ? Date.now() + e.retry_in_ms : null;
        break;
      case 'refused':
        this.app.error = { code: 'room', message: e.message };
        break;
      case 'moderator':
        if (!this.replaying) this.app.notice = t(e.appointed ? 'mod.appointed' : 'mod.unappointed', { user: e.name ?? this.moderators.find((m) => m.id === e.user)?.name ?? e.user });
        break;
      case 'staff':
        this.moderators = e.moderators;
        this.invites = e.invites;
        break;
      case 'mod_invite':
        this.inviteLink = this.info ? `${this.info.viewer_url}#mod=${e.code}` : `#mod=${e.code}`;
        break;
      case 'mod_log':
        this.modlog = e.entries;
        break;
    }
  }

  /** A batch of platform messages and gifts (the `platform_chat` event). */
  applyPlatform(b: PlatformChatBatch) {
    for (const l of b.lines) {
      this.platformSeq = Math.min(this.platformSeq + 1, 9_999_999);
      this.chat.push({
        id: this.lastRoomId + this.platformSeq / 1e7,
        at: Date.now(),
        user: l.user,
        role: 'viewer',
        text: l.text,
        color: '#ffffff',
        deleted: false,
        platform: l.platform,
        paid: l.gift,
        source: l.source,
        messageId: l.message_id,
        platformUserId: l.user_id,
      });
    }
    if (this.chat.length > CHAT_KEEP) this.chat.splice(0, this.chat.length - CHAT_KEEP);
    this.platformDropped += b.dropped;
    this.platformReceived += b.lines.length;
    // Lines a moderator took away on the platform: struck here too.
    let struck = false;
    for (const r of b.removed) {
      for (let i = 0; i < this.chat.length; i++) {
        const c = this.chat[i];
        const hit = c.source === r.source && !c.deleted && (r.message_id ? c.messageId === r.message_id : r.user_id ? c.platformUserId === r.user_id : true);
        if (hit) {
          this.chat[i] = { ...c, deleted: true, text: '' };
          struck = true;
        }
      }
    }
    if (b.lines.length || struck) this.chatRevision++;
  }

  /** Whether a login is kept for each platform (moderating it from the chat panel). */
  async loadLogins() {
    try {
      for (const p of LOGIN_PLATFORMS) this.logins[p].loggedIn = await this.backend.platformLoggedIn(p);
    } catch (e) {
      this.app.fail(e);
    }
  }

  /** Starts a platform's device login; `platform_login` events follow. */
  async login(platform: LoginPlatform, clientId: string, clientSecret = '') {
    this.logins[platform].state = null;
    try {
      await this.backend.platformLogin(platform, clientId, clientSecret);
    } catch (e) {
      this.app.fail(e);
    }
  }

  async logout(platform: LoginPlatform) {
    try {
      await this.backend.platformLogout(platform);
      this.logins[platform] = { loggedIn: false, state: null };
    } catch (e) {
      this.app.fail(e);
    }
  }

  /** The `platform_login` event. */
  applyLogin(e: PlatformLogin) {
    this.logins[e.platform].state = e.state;
    if (e.state.state === 'done') this.logins[e.platform].loggedIn = true;
  }

  /** A platform source's state (the `chat_source` event). */
  applySource(s: ChatSourceState) {
    const state = (['connecting', 'live', 'reconnecting', 'failed'] as const).find((x) => x === s.state) ?? 'connecting';
    this.sources = {
      ...this.sources,
      [s.source]: { source: s.source, state, attempt: s.attempt, reason: s.reason, noteCode: s.note_code, note: s.note },
    };
  }

  /** A new show: its sources start over. */
  resetSources() {
    this.sources = {};
    this.platformDropped = 0;
    this.platformReceived = 0;
  }

  private pushChat(item: ChatRow) {
    if (Number.isInteger(item.id) && item.id > this.lastRoomId) {
      this.lastRoomId = item.id;
      this.platformSeq = 0;
    }
    // In place: a 100k backlog is not copied per message (the list re-reads on chatRevision).
    this.chat.push(item);
    if (this.chat.length > CHAT_KEEP) this.chat.splice(0, this.chat.length - CHAT_KEEP);
    this.chatRevision++;
  }

  async sendChat(text: string) {
    const v = text.trim();
    if (!v) return;
    try {
      await this.backend.roomChat(v);
    } catch (e) {
      this.app.fail(e);
    }
  }

  async deleteChat(id: number) {
    try {
      await this.backend.roomDelete(id);
    } catch (e) {
      this.app.fail(e);
    }
  }

  /** A message menu action. */
  async chatAction(action: ChatAction, item: Pick<ChatRow, 'id' | 'userId' | 'user' | 'text' | 'source' | 'messageId' | 'platformUserId'>) {
    const b = this.backend;
    const hideHere = () => {
      const i = this.chat.findIndex((c) => c.id === item.id);
      if (i >= 0) this.chat[i] = { ...this.chat[i], deleted: true, text: '' };
      this.chatRevision++;
    };
    if (action === 'hide_here') {
      hideHere();
      this.app.notice = t('chat.hiddenHere');
      return;
    }
    if (item.source) {
      // A platform's message: moderated on the platform where it has an API and a login;
      // otherwise hidden here, saying why.
      const source = item.source;
      try {
        if (action === 'delete' && item.messageId) await b.platformModerate({ action: 'delete', source, message_id: item.messageId });
        else if (action === 'ban' && item.platformUserId) await b.platformModerate({ action: 'ban', source, user_id: item.platformUserId });
        else if ((action === 'timeout_60' || action === 'timeout_600') && item.platformUserId)
          await b.platformModerate({ action: 'timeout', source, user_id: item.platformUserId, seconds: action === 'timeout_60' ? 60 : 600 });
        else return;
        if (action === 'delete') hideHere();
        const platform = t(`chat.platform.${source.split(':')[0]}` as MessageKey);
        this.app.notice =
          action === 'delete'
            ? t('chat.platformDeleted', { platform })
            : t(action === 'ban' ? 'chat.platformBanned' : 'chat.platformTimedOut', { user: item.user, n: action === 'timeout_60' ? 1 : 10, platform });
      } catch (e) {
        hideHere();
        const why = e && typeof e === 'object' && 'message' in e ? String((e as { message: unknown }).message) : String(e);
        this.app.notice = t('chat.platformModFailed', { why });
      }
      return;
    }
    try {
      if (action === 'delete') await b.roomModerate({ action: 'delete', id: item.id });
      else if (action === 'appoint' || action === 'unappoint') {
        if (item.userId) await this.appoint(item.userId, action === 'appoint');
      }
      else if (action === 'pin_question') {
        if (!this.questions.some((q) => q.id === item.id)) this.questions = [...this.questions, { id: item.id, user: item.user, text: item.text, at: Date.now() }];
        await b.roomPinQuestion(item.id);
      } else if (item.userId) {
        if (action === 'ban') await b.roomModerate({ action: 'ban', user: item.userId });
        else await b.roomModerate({ action: 'timeout', user: item.userId, seconds: action === 'timeout_60' ? 60 : 600 });
        this.app.notice = t(action === 'ban' ? 'mod.banned' : 'mod.timedOut', { user: item.user, n: action === 'timeout_60' ? 1 : 10 });
      }
    } catch (e) {
      this.app.fail(e);
    }
  }

  /** Makes a viewer (by id) a moderator, or a moderator a viewer again. */
  async appoint(userId: string, on: boolean) {
    try {
      if (on) await this.backend.roomAppoint(userId);
      else await this.backend.roomUnappoint(userId);
    } catch (e) {
      this.app.fail(e);
    }
  }

  async mintInvite() {
    try {
      await this.backend.roomModInvite();
    } catch (e) {
      this.app.fail(e);
    }
  }

  async revokeInvite(code: string) {
    try {
      await this.backend.roomModInviteRevoke(code);
      if (this.inviteLink?.endsWith(`#mod=${code}`)) this.inviteLink = null;
    } catch (e) {
      this.app.fail(e);
    }
  }

  /** Asks the room for its moderators and invites (a `staff` event answers). */
  async refreshStaff() {
    try {
      await this.backend.roomStaff();
      await this.backend.roomModerationLog(100);
    } catch (e) {
      this.app.fail(e);
    }
  }

  private logTimer: ReturnType<typeof setTimeout> | null = null;
  /** The log again shortly (a burst of actions costs one request). */
  private logSoon() {
    if (this.logTimer) return;
    this.logTimer = setTimeout(() => {
      this.logTimer = null;
      void this.refreshLog();
    }, 300);
  }

  /** Asks the room for its moderation log (a `mod_log` event answers). */
  async refreshLog() {
    try {
      await this.backend.roomModerationLog(100);
    } catch (e) {
      this.app.fail(e);
    }
  }

  /** A user's display name for the log: a moderator's, a chatter's, else the id. */
  nameOf(userId: string): string {
    const m = this.moderators.find((x) => x.id === userId);
    if (m) return m.name;
    for (let i = this.chat.length - 1; i >= 0 && i >= this.chat.length - 2000; i--) if (this.chat[i].userId === userId) return this.chat[i].user;
    return userId;
  }

  async pinQuestion(id: number | null) {
    try {
      await this.backend.roomPinQuestion(id);
    } catch (e) {
      this.app.fail(e);
    }
  }

  markAnswered(id: number, answered: boolean) {
    this.questions = this.questions.map((q) => (q.id === id ? { ...q, answered } : q));
    if (answered && this.pinned === id) void this.pinQuestion(null);
  }

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
      this.app.fail(e);
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
      this.app.fail(e);
    }
  }

  /** Room rules and blocked words: sent to the room and remembered. */
  async saveRules(v: RoomSettingsValue) {
    const before = new Set(this.settings.value.room.blocked_words);
    const after = new Set(v.blockedWords.map((w) => w.trim()).filter(Boolean));
    const add = [...after].filter((w) => !before.has(w));
    const remove = [...before].filter((w) => !after.has(w));
    try {
      await this.backend.roomSettings({ slow_mode_s: v.slowModeS, mods_only: v.modsOnly, blocked_mode: v.blockedMode, user_rate_per_min: v.userRatePerMin });
      if (add.length || remove.length) await this.backend.roomBlockWords(add, remove);
      this.settings.persist({ room: { slow_mode_s: v.slowModeS, mods_only: v.modsOnly, blocked_mode: v.blockedMode, blocked_words: [...after], user_rate_per_min: v.userRatePerMin } });
      this.app.notice = t('roomRules.saved');
    } catch (e) {
      this.app.fail(e);
    }
  }

  async startPoll(p: PollStart) {
    try {
      await this.backend.roomPollStart(p);
    } catch (e) {
      this.app.fail(e);
    }
  }

  async endPoll() {
    if (!this.poll) return;
    try {
      await this.backend.roomPollEnd(this.poll.poll);
    } catch (e) {
      this.app.fail(e);
    }
  }

  /** The gift's display name in the UI language. */
  giftName(id: string): string {
    const g = this.catalog.find((c) => c.id === id);
    return g ? (i18n.locale === 'zh-CN' ? g.name_zh : g.name) : id;
  }

  /** Why the room is offline, in the UI language (what to fix first, then the reason). */
  downText(): string | null {
    if (this.down === null) return null;
    const fix = this.problem && `room.problem.${this.problem}` in STRINGS ? t(`room.problem.${this.problem}` as MessageKey) : '';
    const reason = fix ? `${fix} (${this.down})` : this.down;
    if (this.retryAt === null) return t('room.offline', { reason });
    return t('room.offlineRetry', { reason, s: Math.max(1, Math.ceil((this.retryAt - Date.now()) / 1000)) });
  }

  /** Where the room server serves gift art. */
  get giftArtBase(): string {
    const u = this.info?.viewer_url;
    return u ? `${new URL(u).origin}/gifts/` : '/assets/gifts/';
  }

  dispose() {
    if (this.giftTimer) clearTimeout(this.giftTimer);
    if (this.logTimer) clearTimeout(this.logTimer);
    if (this.lotteryTimer) clearTimeout(this.lotteryTimer);
  }
}
