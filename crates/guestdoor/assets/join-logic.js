// The guest page's pure logic (no DOM, no network): the state machine, the texts in both
// languages, the error-code → message mapping, name validation and URL building. join.js does
// the browser work and asks this module what to show; join-logic.test.mjs proves it under Node.

/** Codes the host sends (docs/costream.md), then the page's own failures. */
export const SERVER_CODES = ["invite_unknown", "invite_expired", "invite_revoked", "slot_busy",
  "host_not_live", "bad_offer", "too_large", "not_sdp", "too_many"];
export const PAGE_CODES = ["network", "permission", "no_device", "device_busy", "insecure",
  "unsupported", "bad_answer", "unreachable", "http"];

/** Codes after which trying again can help; the others need a new link or another browser. */
const RETRYABLE = new Set(["slot_busy", "host_not_live", "too_many", "too_large", "not_sdp",
  "network", "permission", "no_device", "device_busy", "bad_answer", "unreachable", "http"]);
export const isRetryable = (code) => RETRYABLE.has(code);

/** Server states that end the session (the tracks are stopped). */
export const END_STATES = ["declined", "removed", "ended"];

export const NAME_MAX = 32;

const TEXT = {
  en: {
    page_title: "Join the show", lang_other: "中文", lang_label: "Switch language",
    invite_host: "{host} invites you to join the show", invite_anon: "You are invited to join a live show",
    camera: "Camera", microphone: "Microphone", no_camera: "No camera", mic_level: "Microphone level",
    name: "Your name", name_placeholder: "Shown to the host", name_hint: "Up to 32 characters",
    name_long: "Your name is too long (at most 32 characters).",
    join: "Join", joining_btn: "Joining…", audio_only: "No camera found: you will join with audio only.",
    preview: "Your camera preview", show: "The show",
    mute: "Mute", unmute: "Unmute", cam_off: "Camera off", cam_on: "Camera on", leave: "Leave",
    you_muted: "You are muted", your_cam_off: "Your camera is off",
    shortcuts: "Shortcuts: M mute · V camera · L leave", hear: "Click to hear the show",
    on_air_badge: "ON AIR", retry: "Try again", rejoin: "Join again", raw: "Raw audio (no echo cancellation)",
    allow: "Allow the camera and microphone when your browser asks.", devices: "Camera and microphone",
    "s.loading": "Opening the invite…", "d.loading": "",
    "s.preview": "Check your camera and microphone, then join.", "d.preview": "",
    "s.joining": "Joining…", "d.joining": "",
    "s.connecting": "Connecting to the host…", "d.connecting": "",
    "s.connected": "Connected", "d.connected": "",
    "s.waiting": "Waiting in the green room",
    "d.waiting": "The host will bring you on air soon. They can already see and hear you.",
    "s.on_air": "You are on air", "d.on_air": "Everyone watching can see and hear you.",
    "s.muted_by_host": "The host muted you", "d.muted_by_host": "You are still on air, but the audience cannot hear you.",
    "s.reconnecting": "Reconnecting…", "d.reconnecting": "The connection dropped; trying to get it back.",
    "s.declined": "The host declined your request", "d.declined": "You can close this page.",
    "s.removed": "The host removed you from the show", "d.removed": "You can close this page.",
    "s.ended": "The show has ended", "d.ended": "Thanks for joining!",
    "s.left": "You left the show", "d.left": "You can join again while the invite is valid.",
    "e.invite_unknown": "This invite link is not valid",
    "h.invite_unknown": "Check that you copied the whole link, or ask the host for a new one.",
    "e.invite_expired": "This invite has expired", "h.invite_expired": "Ask the host for a new link.",
    "e.invite_revoked": "The host cancelled this invite", "h.invite_revoked": "Ask the host for a new link if you should still join.",
    "e.slot_busy": "Someone else is using this invite",
    "h.slot_busy": "Each invite is for one guest. If that was you in another tab or device, leave there first, then try again.",
    "e.host_not_live": "The host is not live yet", "h.host_not_live": "Try again when the show has started.",
    "e.bad_offer": "Your browser's connection request was refused",
    "h.bad_offer": "The host could not use your browser's media formats. Try an up-to-date Chrome, Firefox or Safari.",
    "e.too_large": "The connection request was too large", "h.too_large": "Try again, or use another browser.",
    "e.not_sdp": "The connection request was malformed", "h.not_sdp": "Reload the page and try again.",
    "e.too_many": "Too many attempts", "h.too_many": "Wait a minute, then try again.",
    "e.network": "Network blocked",
    "h.network": "Your network may block UDP: try another network (for example your phone's mobile data), or ask the host for a TURN server.",
    "e.permission": "Camera or microphone access was refused",
    "h.permission": "Allow it: click the camera icon in the address bar (on a phone: the browser's site settings), choose Allow, then try again.",
    "e.no_device": "No microphone found", "h.no_device": "Connect a microphone (a camera is optional), then try again.",
    "e.device_busy": "Your camera or microphone is in use", "h.device_busy": "Close other apps or tabs that use it, then try again.",
    "e.insecure": "This page must be opened over https",
    "h.insecure": "Browsers allow the camera and microphone only on secure pages. Ask the host for an https:// link.",
    "e.unsupported": "This browser cannot join", "h.unsupported": "It lacks WebRTC. Use an up-to-date Chrome, Firefox or Safari.",
    "e.bad_answer": "The host's answer could not be used", "h.bad_answer": "Try again; if it keeps happening, tell the host.",
    "e.unreachable": "Cannot reach the host", "h.unreachable": "Check your internet connection, then try again.",
    "e.http": "Something went wrong", "h.http": "The host answered with an unexpected error ({status}). Try again.",
  },
  zh: {
    page_title: "加入连麦", lang_other: "English", lang_label: "切换语言",
    invite_host: "{host} 邀请你连麦", invite_anon: "你受邀加入一场直播连麦",
    camera: "摄像头", microphone: "麦克风", no_camera: "不使用摄像头", mic_level: "麦克风音量",
    name: "你的名字", name_placeholder: "主播会看到这个名字", name_hint: "最多 32 个字符",
    name_long: "名字太长（最多 32 个字符）。",
    join: "加入", joining_btn: "正在加入…", audio_only: "没有找到摄像头：你将只用声音加入。",
    preview: "你的摄像头预览", show: "直播画面",
    mute: "静音", unmute: "取消静音", cam_off: "关闭摄像头", cam_on: "打开摄像头", leave: "离开",
    you_muted: "你已静音", your_cam_off: "你的摄像头已关闭",
    shortcuts: "快捷键：M 静音 · V 摄像头 · L 离开", hear: "点击收听直播",
    on_air_badge: "直播中", retry: "重试", rejoin: "重新加入", raw: "原始音频（无回声消除）",
    allow: "浏览器询问时，请允许使用摄像头和麦克风。", devices: "摄像头和麦克风",
    "s.loading": "正在打开邀请…", "d.loading": "",
    "s.preview": "检查摄像头和麦克风，然后加入。", "d.preview": "",
    "s.joining": "正在加入…", "d.joining": "",
    "s.connecting": "正在连接主播…", "d.connecting": "",
    "s.connected": "已连接", "d.connected": "",
    "s.waiting": "等待上麦", "d.waiting": "你在候场区，主播同意后即可上麦。主播已经能看到和听到你。",
    "s.on_air": "你正在直播中", "d.on_air": "所有观众都能看到和听到你。",
    "s.muted_by_host": "主播已将你静音", "d.muted_by_host": "你仍在画面中，但观众听不到你的声音。",
    "s.reconnecting": "正在重新连接…", "d.reconnecting": "连接中断，正在尝试恢复。",
    "s.declined": "主播拒绝了你的连麦请求", "d.declined": "你可以关闭此页面。",
    "s.removed": "主播已将你移出连麦", "d.removed": "你可以关闭此页面。",
    "s.ended": "直播已结束", "d.ended": "感谢参与！",
    "s.left": "你已离开连麦", "d.left": "邀请有效期内可以重新加入。",
    "e.invite_unknown": "邀请链接无效", "h.invite_unknown": "请确认复制了完整的链接，或向主播索取新的邀请。",
    "e.invite_expired": "邀请已过期", "h.invite_expired": "请向主播索取新的链接。",
    "e.invite_revoked": "主播已撤销此邀请", "h.invite_revoked": "如仍需加入，请向主播索取新的链接。",
    "e.slot_busy": "已有其他人在使用此邀请",
    "h.slot_busy": "每个邀请只供一位嘉宾使用。如果是你在另一个标签页或设备上，请先在那里离开，再重试。",
    "e.host_not_live": "主播尚未开播", "h.host_not_live": "请在直播开始后重试。",
    "e.bad_offer": "你的浏览器的连接请求被拒绝", "h.bad_offer": "主播无法使用你浏览器的媒体格式。请使用最新版的 Chrome、Firefox 或 Safari。",
    "e.too_large": "连接请求过大", "h.too_large": "请重试，或换一个浏览器。",
    "e.not_sdp": "连接请求格式错误", "h.not_sdp": "请刷新页面后重试。",
    "e.too_many": "尝试次数过多", "h.too_many": "请稍等一分钟再试。",
    "e.network": "网络受阻", "h.network": "你的网络可能屏蔽了 UDP：请换一个网络（例如手机流量），或请主播配置 TURN 服务器。",
    "e.permission": "摄像头或麦克风权限被拒绝",
    "h.permission": "请允许访问：点击地址栏中的摄像头图标（手机上：浏览器的网站设置），选择“允许”，然后重试。",
    "e.no_device": "没有找到麦克风", "h.no_device": "请连接麦克风（摄像头可选），然后重试。",
    "e.device_busy": "摄像头或麦克风正被占用", "h.device_busy": "请关闭正在使用它的其他应用或标签页，然后重试。",
    "e.insecure": "此页面必须通过 https 打开", "h.insecure": "浏览器只在安全页面上允许使用摄像头和麦克风。请向主播索取 https:// 开头的链接。",
    "e.unsupported": "此浏览器无法加入", "h.unsupported": "它不支持 WebRTC。请使用最新版的 Chrome、Firefox 或 Safari。",
    "e.bad_answer": "无法使用主播的应答", "h.bad_answer": "请重试；如果一直出现，请告诉主播。",
    "e.unreachable": "无法连接到主播", "h.unreachable": "请检查网络连接后重试。",
    "e.http": "出错了", "h.http": "主播返回了意外的错误（{status}）。请重试。",
  },
};
export const LANGS = Object.keys(TEXT);

/** A stored choice wins; otherwise any zh-* browser language gets 简体中文, the rest English. */
export function pickLang(navigatorLanguage, stored) {
  if (LANGS.includes(stored)) return stored;
  return String(navigatorLanguage || "").toLowerCase().startsWith("zh") ? "zh" : "en";
}

/** The text for `key` in `lang` with `{var}` filled in; English, then the key, as fallbacks. */
export function t(lang, key, vars = {}) {
  const s = (TEXT[lang] && TEXT[lang][key]) ?? TEXT.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (m, v) => (v in vars ? String(vars[v]) : m));
}

/** Every key of every language, so the tests can prove both languages are complete. */
export const textKeys = (lang) => Object.keys(TEXT[lang] || {});

/** Title and hint for an error code; unknown codes read as the generic "http" one. */
export function errorText(lang, code, status) {
  const c = SERVER_CODES.includes(code) || PAGE_CODES.includes(code) ? code : "http";
  return { title: t(lang, "e." + c), hint: t(lang, "h." + c, { status: status ?? "?" }) };
}

/**
 * The code of an HTTP failure: the JSON body's `code` when it is one the contract names,
 * else the code the contract ties to that status (a proxy may answer without our JSON),
 * else "http".
 */
export function errorCode(status, bodyText) {
  try {
    const code = JSON.parse(bodyText).code;
    if (SERVER_CODES.includes(code)) return code;
  } catch { /* not our JSON: fall back on the status */ }
  return ({ 400: "bad_offer", 404: "invite_unknown", 409: "slot_busy", 410: "invite_expired",
    413: "too_large", 415: "not_sdp", 429: "too_many", 503: "host_not_live" })[status] || "http";
}

/** getUserMedia's DOMException name → the page's code. */
export function mediaErrorCode(name) {
  if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") return "permission";
  if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError") return "no_device";
  if (name === "NotReadableError" || name === "AbortError" || name === "TrackStartError") return "device_busy";
  return "device_busy";
}

/**
 * The name as sent: spaces (newlines, tabs) collapsed, other control characters dropped and trimmed. Length counts
 * code points (what a person calls characters: 张三 is 2, an emoji 1), at most NAME_MAX.
 * Empty is fine: the host then names the guest "Guest N".
 */
export function validateName(raw) {
  // eslint-disable-next-line no-control-regex
  const name = String(raw ?? "").replace(/\s+/g, " ").replace(/[\u0000-\u001f\u007f]/g, "").trim();
  const ok = Array.from(name).length <= NAME_MAX;
  return { ok, name, error: ok ? null : "name_long" };
}

/**
 * The URLs of the invite from the page's path `{prefix}/join/{token}` (the token is the last
 * path segment; a trailing slash is tolerated; a prefix lets a room live under a sub-path).
 * Returns null when the path holds no token.
 */
export function inviteUrls(pathname) {
  const parts = String(pathname).split("/");
  while (parts.length && parts[parts.length - 1] === "") parts.pop();
  const token = parts.pop();
  if (!token || parts[parts.length - 1] !== "join") return null;
  const root = parts.join("/"); // "{prefix}/join"
  const invite = root + "/" + token;
  return {
    token,
    page: invite,
    info: invite + "/info",
    assets: root + "/assets/",
    whip: (name) => invite + "/whip" + (name ? "?name=" + encodeURIComponent(name) : ""),
  };
}

/** Codecs with the preferred mime type first, the rest in the browser's order (stable). */
export function preferCodec(codecs, mimeType) {
  const want = mimeType.toLowerCase();
  const first = codecs.filter((c) => String(c.mimeType).toLowerCase() === want);
  return first.length ? first.concat(codecs.filter((c) => String(c.mimeType).toLowerCase() !== want)) : codecs.slice();
}

/** Time-domain samples (-1..1) → meter level 0..1: RMS in dBFS, -60 dB at 0, 0 dB at 1. */
export function levelFromSamples(samples) {
  let sum = 0;
  for (const s of samples) sum += s * s;
  const rms = samples.length ? Math.sqrt(sum / samples.length) : 0;
  if (rms <= 0) return 0;
  const db = 20 * Math.log10(rms);
  return Math.min(1, Math.max(0, (db + 60) / 60));
}

// ---- the state machine -------------------------------------------------------------------
// Two axes meet here: the page's own phase (loading → preview → joining → joined, or an end or
// an error) and, once joined, the connection (ICE) and the host's word about the guest (the
// polled state). stateName() folds them into the one name the page shows and tests wait on.

export const initialModel = () => ({
  phase: "loading", // loading | preview | joining | joined | ended | error
  ice: "new", // new | connecting | connected | reconnecting
  everConnected: false,
  redialing: false, // joining anew after a connection that had worked failed (same slot)
  show: null, // the host's last polled state: waiting | on_air | declined | removed | ended
  hostMuted: false,
  end: null, // declined | removed | ended | left
  error: null, // a code of SERVER_CODES or PAGE_CODES
  status: null, // the HTTP status behind an "http" error
});

/** The next model after `ev`; events that do not apply in the current phase change nothing. */
export function reduce(m, ev) {
  // An end or an error holds until the guest tries again (or the invite is read anew).
  if ((m.phase === "ended" || m.phase === "error") && ev.type !== "retry" && ev.type !== "info_ok") return m;
  switch (ev.type) {
    case "info_ok":
      return { ...initialModel(), phase: "preview" };
    case "join":
      return m.phase === "preview" ? { ...m, phase: "joining", redialing: false } : m;
    case "redial":
      // A connection that had worked and failed (Wi-Fi to mobile data, a long drop): the page
      // joins anew, the host puts the guest back in the same slot; shown as reconnecting.
      return m.phase === "joined" ? { ...m, phase: "joining", ice: "reconnecting", everConnected: false, redialing: true } : m;
    case "answered":
      return m.phase === "joining" ? { ...m, phase: "joined", ice: "connecting" } : m;
    case "ice": {
      if (m.phase !== "joined") return m;
      const s = ev.state;
      if (s === "connected" || s === "completed") return { ...m, ice: "connected", everConnected: true, redialing: false };
      if (s === "disconnected") return { ...m, ice: m.everConnected ? "reconnecting" : "connecting" };
      if (s === "failed") return { ...m, phase: "error", error: "network" };
      if (s === "checking" || s === "new") return { ...m, ice: m.everConnected ? "reconnecting" : "connecting" };
      return m;
    }
    case "ice_timeout":
      return m.phase === "joined" && !m.everConnected ? { ...m, phase: "error", error: "network" } : m;
    case "poll": {
      if (m.phase !== "joined") return m;
      const s = ev.body && ev.body.state;
      if (END_STATES.includes(s)) return { ...m, phase: "ended", end: s, show: s };
      if (s !== "waiting" && s !== "on_air") return m;
      return { ...m, show: s, hostMuted: !!ev.body.muted_by_host };
    }
    case "left":
      return m.phase === "joined" || m.phase === "joining" ? { ...m, phase: "ended", end: "left" } : m;
    case "error":
      return { ...m, phase: "error", error: ev.code, status: ev.status ?? null };
    case "retry":
      return m.phase === "error" || m.phase === "ended" ? { ...initialModel(), phase: ev.to || "preview" } : m;
    default:
      return m;
  }
}

/**
 * The one name of the current state: loading, preview, joining, connecting, connected,
 * waiting, on_air, muted_by_host, reconnecting, declined, removed, ended, left, error:CODE.
 * While joined, a lost connection outranks the host's word, and the host's word is shown only
 * once media can flow (so "on_air" means the host really has the guest's media).
 */
export function stateName(m) {
  switch (m.phase) {
    case "ended": return m.end;
    case "error": return "error:" + m.error;
    case "joining":
      return m.redialing ? "reconnecting" : "joining";
    case "joined":
      if (m.ice === "reconnecting" || m.redialing) return "reconnecting";
      if (!m.everConnected) return "connecting";
      if (m.show === "on_air") return m.hostMuted ? "muted_by_host" : "on_air";
      if (m.show === "waiting") return "waiting";
      return "connected";
    default: return m.phase;
  }
}

/** Title and detail of a state name in `lang`. */
export function stateText(lang, name, status) {
  if (name.startsWith("error:")) {
    const { title, hint } = errorText(lang, name.slice(6), status);
    return { title, detail: hint };
  }
  return { title: t(lang, "s." + name), detail: t(lang, "d." + name) };
}

/** Whether the local tracks must be stopped in this state (the session is over). */
export const stopsTracks = (name) => ["declined", "removed", "ended", "left", "error:invite_unknown",
  "error:invite_expired", "error:invite_revoked", "error:insecure", "error:unsupported"].includes(name);
