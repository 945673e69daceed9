// Strings in English and 简体中文. The language follows the OS until the user picks one
// (remembered in localStorage).

import { COMPONENT_STRINGS } from '../components/component-strings';

const en = {
  ...COMPONENT_STRINGS.en,
  'app.name': 'Marquee',
  'live.go': 'Go Live',
  'live.starting': 'Starting…',
  'live.end': 'End',
  'live.ending': 'Ending…',
  'live.badge': 'LIVE',
  'live.offline': 'Offline',
  'live.endConfirmTitle': 'End the stream?',
  'live.endConfirmBody': 'Viewers will see the stream stop. The recording is finalised.',
  'live.endConfirm': 'End stream',
  'live.cancel': 'Keep streaming',
  'live.ended': 'Stream ended after {duration}.',
  'record.label': 'Record',
  'highlight.save': 'Clip 30 s',
  'highlight.saving': 'Saving…',
  'highlight.hint': 'Save the last 30 seconds as a clip (H); M drops a mark',
  'highlight.saved': 'Clip saved: {path}',
  'highlight.marked': 'Mark at {time}',
  'record.on': 'REC',
  'record.hint': 'Saved to Videos/Marquee',
  'preview.title': 'Program',
  'preview.offline': 'Preview starts when you go live',
  'preview.source': 'Source: {source}',
  'scenes.title': 'Scenes',
  'scenes.test': 'Test pattern',
  'scenes.camera': 'Camera {n}',
  'scenes.noCamera': 'No camera found — the test pattern is ready',
  'scenes.shortcut': 'Press {key}',
  'scenes.director': 'Director',
  'scenes.directorOn': 'Director mode is on: the loudest camera microphone picks the shot (D)',
  'scenes.directorOff': 'Director mode is off: press D to let the loudest camera microphone pick the shot',
  'scenes.directorPaused': 'paused',
  'scenes.overlay': 'Overlay {name}: on air — click to hide',
  'scenes.overlayOff': 'Overlay {name}: hidden — click to show',
  'dest.title': 'Destinations',
  'dest.add': 'Add destination',
  'dest.none': 'No destination yet — add one, or just record.',
  'dest.url': 'Server URL',
  'dest.keyName': 'Key name',
  'dest.key': 'Stream key',
  'dest.keyHint': 'Stored in the OS keychain, never in a file',
  'dest.save': 'Save',
  'dest.remove': 'Remove',
  'dest.preset': 'Preset',
  'dest.custom': 'Custom RTMP(S)',
  'state.idle': 'ready',
  'state.connecting': 'connecting',
  'state.live': 'live',
  'state.reconnecting': 'reconnecting #{n}',
  'state.failed': 'failed: {reason}',
  'state.stopped': 'stopped',
  'stats.title': 'Stats',
  'stats.fps': 'Output fps',
  'stats.cpu': 'CPU',
  'stats.memory': 'Memory',
  'stats.dropped': 'Dropped frames',
  'stats.drop.capture': 'capture',
  'stats.drop.render': 'render',
  'stats.drop.encoder': 'encoder',
  'stats.bitrate': 'Bitrate',
  'stats.audio': 'Audio',
  'stats.peak': 'peak',
  'stats.rms': 'RMS',
  'stats.waiting': 'Numbers appear once you are live',
  'room.title': 'Room',
  'room.chat': 'Chat',
  'room.gifts': 'Gifts',
  'room.vote': 'Vote',
  'room.viewers': '{n} watching',
  'room.empty': 'No messages yet. Share the viewer link to start the conversation.',
  'room.noGifts': 'Gifts appear here.',
  'room.say': 'Say something to the room…',
  'room.send': 'Send',
  'room.delete': 'Delete',
  'room.deleted': 'message deleted',
  'room.giftAlert': '{user} sent {gift} ×{count}',
  'room.link': 'Viewer link',
  'room.copy': 'Copy',
  'room.offline': 'Room offline: {reason}',
  'vote.question': 'Question',
  'vote.option': 'Option {n}',
  'vote.addOption': 'Add option',
  'vote.duration': 'Duration (s)',
  'vote.start': 'Start vote',
  'vote.end': 'End vote',
  'vote.votes': 'Votes: {n}',
  'vote.ended': 'Ended',
  'vote.live': 'Live vote',
  'settings.language': 'Language',
  'error.title': 'Something went wrong',
  'error.dismiss': 'Dismiss',
  'error.keychain': 'The OS keychain is not available. Unlock it (or sign in to your desktop) and try again.',
  'error.already_live': 'You are already live.',
  'error.not_live': 'You are not live.',
  'first.testOk': 'Connected — the RTMP server answered. Your key is checked when you go live.',
  'mod.banned': '{user} is banned from the room',
  'mod.timedOut': '{user} cannot write for {n} min',
  'roomRules.saved': 'Room rules saved',
  'preview.idle': 'Preview · not live yet',
  'preview.stats': 'preview {fps} fps',
  'preview.overlay': 'Danmaku over the preview',
  'preview.waiting': 'Waiting for the first picture…',
  'room.qa': 'Q&A',
  'room.lottery': 'Lottery',
  'room.rules': 'Rules',
  'room.pinned': 'On screen',
  'settings.open': 'Settings',
  'error.network': 'Cannot reach the server. Check the address, your connection, or pick another server.',
  'error.device': 'The camera or microphone cannot be opened. Close other apps using it, or pick another one.',
} as const;

export type MessageKey = keyof typeof en;
export type Messages = Record<MessageKey, string>;

const zh: Messages = {
  ...COMPONENT_STRINGS['zh-CN'],
  'app.name': 'Marquee',
  'live.go': '开始直播',
  'live.starting': '正在开播…',
  'live.end': '结束',
  'live.ending': '正在结束…',
  'live.badge': '直播中',
  'live.offline': '未开播',
  'live.endConfirmTitle': '结束直播？',
  'live.endConfirmBody': '观众将看到直播结束，本地录像会保存完整。',
  'live.endConfirm': '结束直播',
  'live.cancel': '继续直播',
  'live.ended': '直播已结束，时长 {duration}。',
  'record.label': '录制',
  'highlight.save': '剪辑 30 秒',
  'highlight.saving': '保存中…',
  'highlight.hint': '把最近 30 秒存为片段（H）；M 打点',
  'highlight.saved': '片段已保存：{path}',
  'highlight.marked': '已打点 {time}',
  'record.on': '录制中',
  'record.hint': '保存到 视频/Marquee',
  'preview.title': '节目画面',
  'preview.offline': '开播后显示预览',
  'preview.source': '画面来源：{source}',
  'scenes.title': '场景',
  'scenes.test': '测试图案',
  'scenes.camera': '摄像头 {n}',
  'scenes.noCamera': '未找到摄像头——可以先用测试图案',
  'scenes.shortcut': '快捷键 {key}',
  'scenes.director': '导播',
  'scenes.directorOn': '导播模式已开启：麦克风声音最大的摄像头上镜（D）',
  'scenes.directorOff': '导播模式已关闭：按 D 让麦克风声音最大的摄像头自动上镜',
  'scenes.directorPaused': '已暂停',
  'scenes.overlay': '叠加层 {name}：显示中，点击隐藏',
  'scenes.overlayOff': '叠加层 {name}：已隐藏，点击显示',
  'dest.title': '推流目标',
  'dest.add': '添加推流目标',
  'dest.none': '还没有推流目标——添加一个，或者只录制。',
  'dest.url': '服务器地址',
  'dest.keyName': '密钥名称',
  'dest.key': '推流密钥',
  'dest.keyHint': '保存在系统钥匙串中，绝不写入文件',
  'dest.save': '保存',
  'dest.remove': '移除',
  'dest.preset': '平台预设',
  'dest.custom': '自定义 RTMP(S)',
  'state.idle': '就绪',
  'state.connecting': '连接中',
  'state.live': '直播中',
  'state.reconnecting': '重连中 #{n}',
  'state.failed': '失败：{reason}',
  'state.stopped': '已停止',
  'stats.title': '数据',
  'stats.fps': '输出帧率',
  'stats.cpu': 'CPU',
  'stats.memory': '内存',
  'stats.dropped': '丢帧',
  'stats.drop.capture': '采集',
  'stats.drop.render': '渲染',
  'stats.drop.encoder': '编码',
  'stats.bitrate': '码率',
  'stats.audio': '音频',
  'stats.peak': '峰值',
  'stats.rms': 'RMS',
  'stats.waiting': '开播后显示数据',
  'room.title': '直播间',
  'room.chat': '弹幕',
  'room.gifts': '礼物',
  'room.vote': '投票',
  'room.viewers': '{n} 人在看',
  'room.empty': '还没有弹幕。分享观众链接，开始互动吧。',
  'room.noGifts': '收到的礼物会显示在这里。',
  'room.say': '对直播间说点什么…',
  'room.send': '发送',
  'room.delete': '删除',
  'room.deleted': '消息已删除',
  'room.giftAlert': '{user} 送出 {gift} ×{count}',
  'room.link': '观众链接',
  'room.copy': '复制',
  'room.offline': '直播间离线：{reason}',
  'vote.question': '问题',
  'vote.option': '选项 {n}',
  'vote.addOption': '添加选项',
  'vote.duration': '时长（秒）',
  'vote.start': '发起投票',
  'vote.end': '结束投票',
  'vote.votes': '{n} 票',
  'vote.ended': '已结束',
  'vote.live': '投票进行中',
  'settings.language': '语言',
  'error.title': '出错了',
  'error.dismiss': '知道了',
  'error.keychain': '系统钥匙串不可用。请解锁钥匙串（或登录桌面会话）后重试。',
  'error.already_live': '已经在直播了。',
  'error.not_live': '当前没有在直播。',
  'first.testOk': '连接成功——RTMP 服务器已响应。推流密钥会在开播时验证。',
  'mod.banned': '已将 {user} 移出房间',
  'mod.timedOut': '{user} 已被禁言 {n} 分钟',
  'roomRules.saved': '房间规则已保存',
  'preview.idle': '预览 · 尚未开播',
  'preview.stats': '预览 {fps} 帧/秒',
  'preview.overlay': '在预览上显示弹幕',
  'preview.waiting': '正在等待第一帧画面…',
  'room.qa': '问答',
  'room.lottery': '抽奖',
  'room.rules': '规则',
  'room.pinned': '已上屏',
  'settings.open': '设置',
  'error.network': '连接不到服务器。请检查地址和网络，或换一个服务器。',
  'error.device': '无法打开摄像头或麦克风。请关闭正在使用它的其他应用，或换一个设备。',
};

export type Locale = 'en' | 'zh-CN';
export const LOCALES: { id: Locale; label: string }[] = [
  { id: 'zh-CN', label: '简体中文' },
  { id: 'en', label: 'English' },
];
const TABLES: Record<Locale, Messages> = { en, 'zh-CN': zh };
const STORAGE_KEY = 'marquee.locale';

/** Maps any BCP 47 tag (`zh-Hans-CN`, `zh_CN.UTF-8`, `en-GB`) to a supported locale. */
export function matchLocale(tag: string | null | undefined): Locale {
  return tag && /^zh/i.test(tag) ? 'zh-CN' : 'en';
}

function stored(): Locale | null {
  try {
    const v = globalThis.localStorage?.getItem(STORAGE_KEY);
    return v === 'en' || v === 'zh-CN' ? v : null;
  } catch {
    return null;
  }
}

let current = $state<Locale>(stored() ?? matchLocale(globalThis.navigator?.language));

export const i18n = {
  get locale(): Locale {
    return current;
  },
  /** The user's explicit choice (remembered). */
  set(locale: Locale) {
    current = locale;
    try {
      globalThis.localStorage?.setItem(STORAGE_KEY, locale);
    } catch {
      /* private mode: not remembered */
    }
    if (globalThis.document) document.documentElement.lang = locale;
  },
  /** The OS language, applied unless the user picked one. */
  followOs(tag: string) {
    if (!stored()) current = matchLocale(tag);
    if (globalThis.document) document.documentElement.lang = current;
  },
  /** Forget the choice (tests). */
  reset(tag?: string) {
    try {
      globalThis.localStorage?.removeItem(STORAGE_KEY);
    } catch {
      /* ignore */
    }
    current = matchLocale(tag ?? globalThis.navigator?.language);
  },
};

/** The string for `key` in the current language, with `{name}` placeholders filled. */
export function t(key: MessageKey, params?: Record<string, string | number>): string {
  const text = TABLES[current][key] ?? en[key] ?? key;
  return params ? text.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m)) : text;
}

export function allKeys(locale: Locale): string[] {
  return Object.keys(TABLES[locale]);
}

/** `1:02:03` / `02:03`. */
export function formatDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}
