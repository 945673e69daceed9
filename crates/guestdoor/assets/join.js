// The guest page: a browser joins the host's show over WebRTC with WHIP signalling
// (docs/costream.md). The decisions (states, texts, codes, URLs) live in join-logic.js; this file
// does the browser's part: camera and microphone, the peer connection, polling, the DOM.
import * as L from "./join-logic.js";

const $ = (id) => document.getElementById(id);
// Storage may throw (Safari private windows, blocked cookies): the page works without it.
const load = (k) => { try { return localStorage.getItem(k); } catch { return null; } };
const save = (k, v) => { try { localStorage.setItem(k, v); } catch { /* not remembered */ } };

const urls = L.inviteUrls(location.pathname);
// ?raw=1 turns off the browser's voice processing: tests measure tones it would change.
const RAW = new URLSearchParams(location.search).get("raw") === "1";
const ICE_GATHER_MS = 2000; // no trickle: send the offer with what was gathered by then
const ICE_CONNECT_MS = 10000; // no connection by then reads as a network that blocks UDP
const POLL_MS = 1000;
const POLL_TIMEOUT_MS = 3000;
const MAX_REDIALS = 2; // joins anew in a row after a working connection failed, then "network blocked"

let lang = L.pickLang(navigator.language, load("mq.lang")); // the viewer page's key: one choice per site
let model = L.initialModel();
let info = null; // the invite's /info
let stream = null; // the local camera and microphone: previewed, then sent
let pc = null;
let session = null; // the WHIP session URL (Location)
let pollTimer = 0;
let iceTimer = 0;
let selfMuted = false;
let camOff = false;
let meter = null;
let guestName = "";
let redials = 0;

const guest = { state: "loading", pc: null, session: null, selfMuted: false, cameraOff: false };
window.marqueeGuest = guest;

// ---- state and rendering -------------------------------------------------------------------

function dispatch(ev) {
  const before = L.stateName(model);
  model = L.reduce(model, ev);
  const now = L.stateName(model);
  const focus = now !== before ? enter(now) : null;
  render();
  if (focus) focus.focus();
}

/** Side effects of entering a state: the session's end closes the connection, a final state
 *  stops the camera. Returns what takes the focus: an end or an error (read out first), or the
 *  mute button once joined (the controls are what a guest needs next). */
function enter(name) {
  if (model.phase === "ended" || model.phase === "error") {
    const gone = session;
    closePeer();
    // A page-side failure frees the slot at once; the host's own ends need no word back.
    if (gone && (model.phase === "error" || model.end === "left")) {
      fetch(gone, { method: "DELETE", keepalive: true }).catch(() => {});
    }
  }
  if (L.stopsTracks(name)) stopMedia();
  if (model.phase === "ended" || model.phase === "error") return $("status-title");
  return name === "connecting" ? $("mute") : null;
}

function render() {
  const name = L.stateName(model);
  document.body.dataset.state = name;
  document.body.className = "phase-" + model.phase + " state-" + name.replace(":", "-");
  guest.state = name;
  guest.pc = pc;
  guest.session = session;
  guest.selfMuted = selfMuted;
  guest.cameraOff = camOff;

  const tx = (k, v) => L.t(lang, k, v);
  const { title, detail } = L.stateText(lang, name, model.status);
  $("status-title").textContent = title;
  $("status-detail").textContent = model.phase === "preview" && !stream ? tx("allow") : detail;
  const canRetry = (model.phase === "error" && L.isRetryable(model.error)) || model.end === "left";
  $("retry").hidden = !canRetry;
  $("retry").textContent = tx(model.end === "left" ? "rejoin" : "retry");

  const live = model.phase === "joined" || (model.phase === "joining" && model.redialing);
  $("prejoin").hidden = live || (model.phase !== "preview" && model.phase !== "joining");
  $("live").hidden = !live;
  const home = live ? $("devslot") : $("devhome");
  if ($("devices").parentElement !== home) home.append($("devices"));
  $("join").disabled = model.phase !== "preview" || !stream;
  $("join").textContent = tx(model.phase === "joining" ? "joining_btn" : "join");
  $("onair").hidden = name !== "on_air" && name !== "muted_by_host";

  const hasVideo = !!(stream && stream.getVideoTracks().length);
  $("mute").textContent = tx(selfMuted ? "unmute" : "mute");
  $("mute").setAttribute("aria-pressed", String(selfMuted));
  $("camera").textContent = tx(camOff ? "cam_on" : "cam_off");
  $("camera").setAttribute("aria-pressed", String(camOff));
  $("camera").disabled = !hasVideo;
  $("self-off").hidden = hasVideo && !camOff;
  $("selfstate").textContent = [selfMuted && tx("you_muted"), (camOff || !hasVideo) && tx("your_cam_off")]
    .filter(Boolean).join(" · ");
}

function applyLang() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.title = L.t(lang, "page_title");
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = L.t(lang, el.dataset.t);
  for (const el of document.querySelectorAll("[data-t-ph]")) el.placeholder = L.t(lang, el.dataset.tPh);
  for (const el of document.querySelectorAll("[data-t-label]")) el.setAttribute("aria-label", L.t(lang, el.dataset.tLabel));
  $("lang").textContent = L.t(lang, "lang_other");
  const host = info && typeof info.host === "string" && info.host.trim();
  $("invite").textContent = host ? L.t(lang, "invite_host", { host }) : L.t(lang, "invite_anon");
  $("raw").hidden = !RAW;
  fillDevices();
  render();
}

// ---- network helpers -----------------------------------------------------------------------

async function fetchWithin(url, opts, ms) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), ms);
  try { return await fetch(url, { ...opts, signal: ctl.signal, cache: "no-store" }); } finally { clearTimeout(timer); }
}

async function failWith(res) {
  const body = await res.text().catch(() => "");
  dispatch({ type: "error", code: L.errorCode(res.status, body), status: res.status });
}

// ---- start: the invite, then the camera and microphone -------------------------------------

async function start() {
  if (!urls) return dispatch({ type: "error", code: "invite_unknown" });
  // Browsers hide mediaDevices on insecure pages (plain http beyond localhost).
  if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return dispatch({ type: "error", code: window.isSecureContext ? "unsupported" : "insecure" });
  }
  if (!window.RTCPeerConnection) return dispatch({ type: "error", code: "unsupported" });
  try {
    const res = await fetchWithin(urls.info, {}, 8000);
    if (!res.ok) return failWith(res);
    info = await res.json().catch(() => ({}));
  } catch {
    return dispatch({ type: "error", code: "unreachable" });
  }
  applyLang();
  dispatch({ type: "info_ok" });
  await openMedia();
}

function constraints(kind) {
  if (kind === "audio") {
    const id = $("mic").value || load("mq.guest.mic");
    return { echoCancellation: !RAW, noiseSuppression: !RAW, autoGainControl: !RAW,
      ...(id ? { deviceId: { ideal: id } } : {}) };
  }
  const id = $("cam").value || load("mq.guest.cam");
  // A guest fills at most half the program's width (side by side), so 960×540 is plenty and
  // keeps the host's decode cheap; "ideal" lets phones and old cameras give what they have.
  return { width: { ideal: 960 }, height: { ideal: 540 }, frameRate: { ideal: 30 },
    ...(id && id !== "none" ? { deviceId: { ideal: id } } : {}) };
}

async function openMedia() {
  const wantVideo = load("mq.guest.cam") !== "none";
  let s = null;
  try {
    try {
      s = await navigator.mediaDevices.getUserMedia({ audio: constraints("audio"), video: wantVideo && constraints("video") });
    } catch (e) {
      // No camera is fine: the guest joins with their voice. Anything else is reported.
      if (!wantVideo || (e.name !== "NotFoundError" && e.name !== "OverconstrainedError")) throw e;
      s = await navigator.mediaDevices.getUserMedia({ audio: constraints("audio") });
    }
  } catch (e) {
    return dispatch({ type: "error", code: L.mediaErrorCode(e && e.name) });
  }
  if (model.phase !== "preview") { s.getTracks().forEach((t) => t.stop()); return; }
  stream = s;
  $("audio-only").hidden = !wantVideo || s.getVideoTracks().length > 0;
  for (const t of stream.getAudioTracks()) t.enabled = !selfMuted;
  for (const t of stream.getVideoTracks()) t.enabled = !camOff;
  showSelf();
  startMeter();
  await listDevices();
  render();
}

function stopMedia() {
  stopMeter();
  if (stream) stream.getTracks().forEach((t) => t.stop());
  stream = null;
  $("preview").srcObject = null;
  $("selfview").srcObject = null;
}

function showSelf() {
  for (const id of ["preview", "selfview"]) {
    $(id).srcObject = stream;
    $(id).play().catch(() => {}); // muted video may always play; a refusal only hides the preview
  }
}

// ---- device pickers (labels are readable once permission is given) -------------------------

let devices = [];

async function listDevices() {
  try { devices = await navigator.mediaDevices.enumerateDevices(); } catch { devices = []; }
  fillDevices();
}

function fillDevices() {
  // Until the browser grants access, the lists are empty and locked (labels are hidden then).
  $("cam").disabled = $("mic").disabled = !stream;
  const fill = (sel, kind, track, extra) => {
    const current = track ? track.getSettings().deviceId : sel.value;
    sel.replaceChildren();
    let n = 0;
    for (const d of devices.filter((x) => x.kind === kind)) {
      n += 1;
      sel.append(new Option(d.label || `${L.t(lang, kind === "videoinput" ? "camera" : "microphone")} ${n}`, d.deviceId));
    }
    if (extra && stream) sel.append(new Option(L.t(lang, "no_camera"), "none"));
    sel.value = current || (extra && !track ? "none" : sel.value);
  };
  fill($("cam"), "videoinput", stream && stream.getVideoTracks()[0], true);
  fill($("mic"), "audioinput", stream && stream.getAudioTracks()[0], false);
}

/** A new camera or microphone: the old track is stopped first (phones open one camera at a
 *  time), the new one replaces it in the preview and, when joined, on the sender at once. */
async function switchDevice(kind, id) {
  if (!stream) return;
  save(kind === "video" ? "mq.guest.cam" : "mq.guest.mic", id);
  const old = kind === "video" ? stream.getVideoTracks()[0] : stream.getAudioTracks()[0];
  if (old) { old.stop(); stream.removeTrack(old); }
  let track = null;
  if (id !== "none") {
    const c = { ...constraints(kind), deviceId: { exact: id } };
    try {
      track = (await navigator.mediaDevices.getUserMedia({ [kind]: c })).getTracks()[0];
    } catch (e) {
      return dispatch({ type: "error", code: L.mediaErrorCode(e && e.name) });
    }
    if (!stream) { track.stop(); return; }
    track.enabled = kind === "audio" ? !selfMuted : !camOff;
    stream.addTrack(track);
  }
  $("audio-only").hidden = true;
  if (pc) {
    const tr = pc.getTransceivers().find((x) => x.receiver.track && x.receiver.track.kind === kind);
    if (tr) await tr.sender.replaceTrack(track).catch(() => {});
  }
  showSelf();
  if (kind === "audio") startMeter();
  render();
}

// ---- the microphone level meter --------------------------------------------------------------

function startMeter() {
  stopMeter();
  const track = stream && stream.getAudioTracks()[0];
  const AC = window.AudioContext || window.webkitAudioContext;
  if (!track || !AC) return;
  const ctx = new AC();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 1024;
  ctx.createMediaStreamSource(new MediaStream([track])).connect(analyser);
  const buf = new Float32Array(analyser.fftSize);
  const fills = document.querySelectorAll(".meter .fill");
  const m = { ctx, raf: 0, level: 0 };
  const tick = () => {
    analyser.getFloatTimeDomainData(buf);
    // A quick rise and a slow fall, as meters do, so short syllables stay visible.
    m.level = Math.max(track.enabled ? L.levelFromSamples(buf) : 0, m.level * 0.9);
    const level = m.level;
    for (const f of fills) f.style.transform = `scaleX(${level.toFixed(3)})`;
    m.raf = requestAnimationFrame(tick);
  };
  tick();
  meter = m;
  // An audio context made before any click may start suspended: the first gesture wakes it.
  if (ctx.state === "suspended") {
    const wake = () => ctx.resume().catch(() => {});
    ctx.resume().catch(() => {});
    addEventListener("pointerdown", wake, { once: true });
    addEventListener("keydown", wake, { once: true });
  }
}

function stopMeter() {
  if (!meter) return;
  cancelAnimationFrame(meter.raf);
  meter.ctx.close().catch(() => {});
  meter = null;
  for (const f of document.querySelectorAll(".meter .fill")) f.style.transform = "scaleX(0)";
}

// ---- joining ---------------------------------------------------------------------------------

/** Resolves when ICE gathering completes, or after `ms` with what is there (no trickle). */
function gathered(conn, ms) {
  if (conn.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { clearTimeout(timer); conn.removeEventListener("icegatheringstatechange", check); resolve(); };
    const check = () => { if (conn.iceGatheringState === "complete") done(); };
    const timer = setTimeout(done, ms);
    conn.addEventListener("icegatheringstatechange", check);
  });
}

/** VP8 first: every browser encodes it and the host decodes it cheaply (H.264 stays offered). */
function preferVp8(transceiver) {
  if (!transceiver.setCodecPreferences || !window.RTCRtpReceiver || !RTCRtpReceiver.getCapabilities) return;
  const caps = RTCRtpReceiver.getCapabilities("video");
  if (!caps) return;
  try { transceiver.setCodecPreferences(L.preferCodec(caps.codecs, "video/VP8")); } catch { /* browser's order */ }
}

async function join() {
  const v = L.validateName($("name").value);
  if (!v.ok) {
    $("name").setAttribute("aria-invalid", "true");
    $("name-hint").textContent = L.t(lang, "name_long");
    $("name").focus();
    return;
  }
  $("name").setAttribute("aria-invalid", "false");
  $("name-hint").textContent = L.t(lang, "name_hint");
  save("mq.guest.name", v.name);
  if (model.phase !== "preview" || !stream) return;
  guestName = v.name;
  redials = 0;
  dispatch({ type: "join" });
  connect();
}

/** One WHIP session: the offer with the local tracks, the answer, then polling. */
async function connect() {
  const iceServers = info && Array.isArray(info.ice_servers) ? info.ice_servers : [];
  let conn;
  try {
    conn = new RTCPeerConnection({ iceServers });
  } catch {
    conn = new RTCPeerConnection(); // a malformed TURN entry must not stop a guest on an open network
  }
  pc = conn;
  const still = () => pc === conn && (model.phase === "joining" || model.phase === "joined");
  // sendrecv even without a camera: the host's return feed comes back on the same transceivers.
  const vt = stream.getVideoTracks()[0];
  const at = stream.getAudioTracks()[0];
  preferVp8(conn.addTransceiver(vt || "video", { direction: "sendrecv", streams: [stream] }));
  conn.addTransceiver(at || "audio", { direction: "sendrecv", streams: [stream] });
  const back = new MediaStream();
  conn.ontrack = (e) => {
    back.addTrack(e.track);
    $("remote").srcObject = back;
    playBack();
  };
  // ICE's own state, except that a failure of the whole connection (DTLS included) counts as
  // one: Chrome may report that while ICE still reads "disconnected".
  conn.oniceconnectionstatechange = conn.onconnectionstatechange = () => {
    if (pc !== conn) return;
    const s = conn.connectionState === "failed" ? "failed" : conn.iceConnectionState;
    if (s === "failed" && model.everConnected && redials < MAX_REDIALS) return redial();
    if (s === "connected" || s === "completed") redials = 0;
    dispatch({ type: "ice", state: s });
  };

  try {
    await conn.setLocalDescription(await conn.createOffer());
    await gathered(conn, ICE_GATHER_MS);
  } catch {
    if (still()) dispatch({ type: "error", code: "unsupported" });
    return;
  }
  if (!still()) return;
  let res;
  try {
    res = await fetchWithin(new URL(urls.whip(guestName), location.href), {
      method: "POST", headers: { "Content-Type": "application/sdp" }, body: conn.localDescription.sdp,
    }, 15000);
  } catch {
    if (still()) dispatch({ type: "error", code: "unreachable" });
    return;
  }
  if (!still()) return;
  if (!res.ok) return failWith(res);
  const loc = res.headers.get("Location");
  session = loc ? new URL(loc, res.url || location.href).href : null;
  const answer = await res.text().catch(() => "");
  try {
    await conn.setRemoteDescription({ type: "answer", sdp: answer });
  } catch {
    if (still()) dispatch({ type: "error", code: "bad_answer" });
    return;
  }
  if (!still()) return;
  dispatch({ type: "answered" });
  dispatch({ type: "ice", state: conn.iceConnectionState });
  iceTimer = setTimeout(() => dispatch({ type: "ice_timeout" }), ICE_CONNECT_MS);
  poll();
}

/** A connection that had worked failed: the old session is let go (so the slot is free) and
 *  the guest joins anew; the host puts them back in the same slot. */
async function redial() {
  redials += 1;
  const old = session;
  closePeer();
  dispatch({ type: "redial" });
  if (old) await fetchWithin(old, { method: "DELETE" }, 2000).catch(() => {});
  if (model.phase === "joining") connect();
}

/** The host's word on this guest, about once a second; a lost poll is simply tried again
 *  (the connection's own state tells about the network). */
async function poll() {
  const url = session;
  if (!url || model.phase !== "joined") return;
  try {
    const res = await fetchWithin(url, {}, POLL_TIMEOUT_MS);
    if (res.ok) {
      const body = await res.json().catch(() => null);
      if (body && session === url) dispatch({ type: "poll", body });
    } else if (res.status === 404 || res.status === 410) {
      if (session === url) await failWith(res);
    }
  } catch { /* tried again below */ }
  if (session === url && model.phase === "joined") pollTimer = setTimeout(poll, POLL_MS);
}

function closePeer() {
  clearTimeout(pollTimer);
  clearTimeout(iceTimer);
  if (pc) { pc.ontrack = pc.oniceconnectionstatechange = pc.onconnectionstatechange = null; pc.close(); }
  pc = null;
  session = null;
  $("remote").srcObject = null;
  $("hear").hidden = true;
}

/** The return feed with its sound; when the browser refuses sound without a click, the
 *  picture plays muted and a button asks for the click. */
function playBack() {
  const v = $("remote");
  v.muted = false;
  v.play().then(() => { $("hear").hidden = true; }, (e) => {
    if (e && e.name === "NotAllowedError") {
      $("hear").hidden = false;
      v.muted = true;
      v.play().catch(() => {});
    }
  });
}

function leave() {
  if (model.phase === "joined" || model.phase === "joining") dispatch({ type: "left" });
}

function toggleMute() {
  selfMuted = !selfMuted;
  if (stream) for (const t of stream.getAudioTracks()) t.enabled = !selfMuted;
  render();
}

/** Camera off disables the track (black frames, the slot's picture stays): turning it back on
 *  is instant and needs no new permission. */
function toggleCamera() {
  if (!stream || !stream.getVideoTracks().length) return;
  camOff = !camOff;
  for (const t of stream.getVideoTracks()) t.enabled = !camOff;
  render();
}

function retry() {
  if (!info) {
    dispatch({ type: "retry", to: "loading" });
    start();
    return;
  }
  dispatch({ type: "retry", to: "preview" });
  const live = stream && stream.getTracks().some((t) => t.readyState === "live");
  if (!live) { stopMedia(); openMedia(); }
}

// ---- wiring ----------------------------------------------------------------------------------

$("lang").addEventListener("click", () => {
  lang = lang === "zh" ? "en" : "zh";
  save("mq.lang", lang);
  applyLang();
});
$("form").addEventListener("submit", (e) => { e.preventDefault(); join(); });
$("cam").addEventListener("change", (e) => switchDevice("video", e.target.value));
$("mic").addEventListener("change", (e) => switchDevice("audio", e.target.value));
$("mute").addEventListener("click", toggleMute);
$("camera").addEventListener("click", toggleCamera);
$("leave").addEventListener("click", leave);
$("retry").addEventListener("click", retry);
$("hear").addEventListener("click", playBack);
$("name").value = load("mq.guest.name") || "";
$("name").addEventListener("input", () => {
  const v = L.validateName($("name").value);
  const ok = v.ok;
  if (ok) save("mq.guest.name", v.name);
  $("name").setAttribute("aria-invalid", String(!ok));
  $("name-hint").textContent = L.t(lang, ok ? "name_hint" : "name_long");
});

// M, V, L while joined; never while typing in a field, nor with a modifier (browser shortcuts).
addEventListener("keydown", (e) => {
  if (model.phase !== "joined" || e.repeat || e.ctrlKey || e.metaKey || e.altKey) return;
  const el = e.target;
  if (el && (el.isContentEditable || ["INPUT", "SELECT", "TEXTAREA"].includes(el.tagName))) return;
  // The key as typed (any layout); its physical key when an input method swallows it.
  const key = e.key === "Process" || e.key === "Unidentified" ? e.code.replace(/^Key/, "") : e.key;
  const act = { m: toggleMute, v: toggleCamera, l: leave }[key.toLowerCase()];
  if (act) { e.preventDefault(); act(); }
});
if (navigator.mediaDevices) navigator.mediaDevices.addEventListener?.("devicechange", listDevices);
// Closing the tab frees the slot at once instead of after the host's timeout.
addEventListener("pagehide", () => { if (session) fetch(session, { method: "DELETE", keepalive: true }).catch(() => {}); });

applyLang();
start();
