// The viewer page's stage: plays the room's playback URL (HLS with hls.js, or the browser's
// own HLS where it has no Media Source Extensions, e.g. an iPhone; HTTP-FLV with mpegts.js),
// flies the danmaku over the video in lanes (lanes.js), and lets the viewer pick a camera
// angle when the host set several. The players are loaded only when a URL needs them, from
// this server (/viewer/…), never from a CDN.
//
//   const stage = MarqueeStage.create({ stage, angles, room, lang: () => "zh" | "en" });
//   stage.setPlayback([{ name, url }, …]);  // on welcome and on settings_changed
//   stage.fly({ id, text, color, mode });   // a live danmaku; [data-id] lets deletes find it
//   stage.relabel();                        // after the language changed
(function (root) {
  "use strict";

  const STRINGS = {
    en: { none: "No video here yet: the host has not set a playback URL.", waiting: "Waiting for the stream to start…",
          error: "Cannot play this stream", retry: "Retry", unmute: "🔇 Tap to unmute", play: "▶ Tap to play",
          angle: "Angle", angles: "Camera angles" },
    zh: { none: "暂无画面：主播还没有设置播放地址。", waiting: "等待直播开始…", error: "无法播放此直播流", retry: "重试",
          unmute: "🔇 点击开启声音", play: "▶ 点击播放", angle: "机位", angles: "机位" },
  };
  const HLS_JS = "/viewer/hls-1.7.4.light.min.js";
  const MPEGTS_JS = "/viewer/mpegts-1.8.2.min.js";
  const RETRY_MIN_MS = 2000;
  const RETRY_MAX_MS = 10000;

  const CSS = `
#stage video { position:absolute; inset:0; width:100%; height:100%; object-fit:contain; background:#000; }
#stage .dm-layer { position:absolute; overflow:hidden; pointer-events:none; }
#stage .dm { position:absolute; left:0; white-space:nowrap; font-size:22px; line-height:30px; font-weight:600;
  text-shadow:0 0 3px #000,0 0 2px #000; will-change:transform; pointer-events:none; }
#stage .dm.top, #stage .dm.bottom { left:50%; transform:translateX(-50%); }
#stage .stage-state { position:absolute; inset:0; display:flex; flex-direction:column; gap:10px; align-items:center;
  justify-content:center; text-align:center; padding:16px; color:#cfd3dc; background:rgba(0,0,0,.35); }
#stage .stage-state .spin { width:28px; height:28px; border:3px solid #ffffff44; border-top-color:#fff; border-radius:50%;
  animation: mq-spin 1s linear infinite; }
@keyframes mq-spin { to { transform: rotate(360deg); } }
#stage .unmute { position:absolute; left:12px; top:12px; z-index:2; min-height:40px; background:rgba(0,0,0,.65); }
#angles { display:flex; gap:6px; flex-wrap:wrap; margin-top:8px; }
#angles button[aria-pressed="true"] { background:var(--accent, #ff4f8b); border-color:var(--accent, #ff4f8b); color:#fff; }
@media (pointer: coarse) { #angles button, #stage .unmute, #stage .stage-state button { min-height:44px; min-width:44px; } }
@media (max-width: 560px) { #stage .dm { font-size:16px; line-height:22px; } }
`;

  function loadScript(src) {
    loadScript.cache = loadScript.cache || new Map();
    if (!loadScript.cache.has(src)) {
      loadScript.cache.set(src, new Promise((resolve, reject) => {
        const s = document.createElement("script");
        s.src = src;
        s.onload = resolve;
        s.onerror = () => { loadScript.cache.delete(src); reject(new Error("cannot load " + src)); };
        document.head.append(s);
      }));
    }
    return loadScript.cache.get(src);
  }

  const isFlv = (url) => /\.flv$/i.test(url.split(/[?#]/)[0]);

  function create(opts) {
    const { stage, angles, room } = opts;
    const lang = opts.lang || (() => "en");
    const t = (k) => (STRINGS[lang()] || STRINGS.en)[k] || STRINGS.en[k];
    const store = window.localStorage;
    const angleKey = "mq.angle." + room;

    const style = document.createElement("style");
    style.textContent = CSS;
    document.head.append(style);

    const video = document.createElement("video");
    video.muted = true; video.autoplay = true; video.playsInline = true;
    video.setAttribute("playsinline", ""); video.setAttribute("muted", "");
    video.dataset.testid = "video";
    const layer = document.createElement("div");
    layer.className = "dm-layer"; layer.dataset.testid = "danmaku-layer";
    const state = document.createElement("div");
    state.className = "stage-state"; state.dataset.testid = "stage-state";
    const unmute = document.createElement("button");
    unmute.type = "button"; unmute.className = "unmute hidden"; unmute.dataset.testid = "unmute";
    stage.prepend(video, layer, state, unmute);

    const lanes = new root.MarqueeLanes({ lineHeight: window.matchMedia("(max-width: 560px)").matches ? 22 : 30 });
    const S = { sources: [], url: null, player: null, status: "none", detail: "", retryMs: RETRY_MIN_MS, timer: null, gen: 0 };

    // The danmaku layer covers the picture itself (not the letterbox), so lanes fit the
    // video's height.
    function fit() {
      const bw = stage.clientWidth, bh = stage.clientHeight;
      let w = bw, h = bh;
      if (video.videoWidth && video.videoHeight && S.status === "playing") {
        const s = Math.min(bw / video.videoWidth, bh / video.videoHeight);
        w = Math.round(video.videoWidth * s); h = Math.round(video.videoHeight * s);
      }
      Object.assign(layer.style, { left: (bw - w) / 2 + "px", top: (bh - h) / 2 + "px", width: w + "px", height: h + "px" });
      lanes.resize(w, h);
    }
    if (window.ResizeObserver) new ResizeObserver(fit).observe(stage); else window.addEventListener("resize", fit);
    video.addEventListener("loadedmetadata", fit);
    video.addEventListener("resize", fit);

    function show(status, detail) {
      S.status = status; S.detail = detail || "";
      stage.dataset.playback = status;
      state.textContent = "";
      state.classList.toggle("hidden", status === "playing");
      if (status === "none") state.append(t("none"));
      else if (status === "waiting" || status === "loading") {
        const spin = document.createElement("div"); spin.className = "spin";
        state.append(spin, t("waiting"));
      } else if (status === "error") {
        const b = document.createElement("button"); b.type = "button"; b.textContent = t("retry");
        b.dataset.testid = "playback-retry"; b.onclick = () => start();
        state.append(t("error") + (S.detail ? ": " + S.detail : ""), b);
      } else if (status === "blocked") {
        const b = document.createElement("button"); b.type = "button"; b.textContent = t("play");
        b.onclick = () => { video.play().catch(() => {}); };
        state.append(b);
      }
      video.classList.toggle("hidden", status === "none");
      relabelUnmute();
      fit();
    }

    function relabelUnmute() {
      unmute.textContent = t("unmute");
      unmute.classList.toggle("hidden", !video.muted || S.status !== "playing");
    }
    unmute.onclick = () => { video.muted = false; video.play().catch(() => {}); relabelUnmute(); };
    video.addEventListener("volumechange", relabelUnmute);
    video.addEventListener("playing", () => { S.retryMs = RETRY_MIN_MS; show("playing"); });

    function stop() {
      clearTimeout(S.timer); S.timer = null; S.gen++;
      if (S.player) { try { S.player.destroy(); } catch (_) { /* already gone */ } S.player = null; }
      video.removeAttribute("src");
      try { video.load(); } catch (_) { /* nothing loaded */ }
    }

    // Not live yet (the playlist is missing) or gone: try again by itself, backing off.
    function retryLater(gen) {
      if (gen !== S.gen) return;
      stop();
      const gen2 = S.gen;
      show("waiting");
      S.timer = setTimeout(() => { if (gen2 === S.gen) start(); }, S.retryMs);
      S.retryMs = Math.min(RETRY_MAX_MS, S.retryMs * 2);
    }
    function fail(gen, detail) { if (gen === S.gen) { stop(); show("error", detail); } }

    function autoplay() {
      const p = video.play();
      if (p && p.catch) p.catch((e) => { if (e && e.name === "NotAllowedError") show("blocked"); });
    }

    async function start() {
      stop();
      const gen = S.gen;
      const url = S.url;
      if (!url) { show("none"); return; }
      show("loading");
      const mse = !!(window.MediaSource || window.ManagedMediaSource);
      try {
        if (isFlv(url)) {
          await loadScript(MPEGTS_JS);
          if (gen !== S.gen) return;
          const mpegts = root.mpegts;
          if (!mpegts.getFeatureList().mseLivePlayback) return fail(gen, "HTTP-FLV needs Media Source Extensions");
          const p = mpegts.createPlayer({ type: "flv", isLive: true, url }, { enableWorker: false, liveBufferLatencyChasing: true, lazyLoad: false });
          S.player = p;
          p.on(mpegts.Events.ERROR, (type, detail) => {
            if (type === mpegts.ErrorTypes.NETWORK_ERROR) retryLater(gen); else fail(gen, String(detail));
          });
          p.on(mpegts.Events.LOADING_COMPLETE, () => retryLater(gen)); // the live stream ended
          p.attachMediaElement(video);
          p.load();
          autoplay();
        } else if (!mse && video.canPlayType("application/vnd.apple.mpegurl")) {
          // The browser's own HLS (an iPhone): errors say little, so every one is "try again".
          video.onerror = () => retryLater(gen);
          video.src = url;
          autoplay();
        } else {
          await loadScript(HLS_JS);
          if (gen !== S.gen) return;
          const Hls = root.Hls;
          if (!Hls.isSupported()) return fail(gen, "this browser cannot play HLS");
          const hls = new Hls({ liveDurationInfinity: true, manifestLoadingMaxRetry: 1, levelLoadingMaxRetry: 2 });
          S.player = hls;
          let recovered = false;
          hls.on(Hls.Events.ERROR, (_, d) => {
            if (!d.fatal) return;
            if (d.type === Hls.ErrorTypes.NETWORK_ERROR) retryLater(gen);
            else if (d.type === Hls.ErrorTypes.MEDIA_ERROR && !recovered) { recovered = true; hls.recoverMediaError(); }
            else fail(gen, d.details);
          });
          hls.on(Hls.Events.MANIFEST_PARSED, autoplay);
          hls.loadSource(url);
          hls.attachMedia(video);
        }
      } catch (e) {
        fail(gen, e && e.message);
      }
    }

    function label(s, i) { return s.name || t("angle") + " " + (i + 1); }
    function renderAngles() {
      angles.textContent = "";
      angles.setAttribute("aria-label", t("angles"));
      angles.classList.toggle("hidden", S.sources.length < 2);
      S.sources.forEach((s, i) => {
        const b = document.createElement("button");
        b.type = "button"; b.textContent = label(s, i); b.dataset.testid = "angle"; b.dataset.url = s.url;
        b.setAttribute("aria-pressed", String(s.url === S.url));
        b.onclick = () => pick(s.url);
        angles.append(b);
      });
    }
    function pick(url) {
      if (url === S.url) return;
      S.url = url; store.setItem(angleKey, url);
      S.retryMs = RETRY_MIN_MS;
      renderAngles();
      start();
    }

    function setPlayback(list) {
      const sources = Array.isArray(list) ? list.filter((s) => s && typeof s.url === "string") : [];
      const same = JSON.stringify(sources) === JSON.stringify(S.sources);
      S.sources = sources;
      if (same && S.status !== "none") return;
      const remembered = store.getItem(angleKey);
      const keep = sources.find((s) => s.url === S.url) || sources.find((s) => s.url === remembered) || sources[0];
      const url = keep ? keep.url : null;
      const changed = url !== S.url;
      S.url = url;
      renderAngles();
      if (changed || !url || S.status === "none") start();
    }

    function fly(e) {
      const mode = e.mode === "top" || e.mode === "bottom" ? e.mode : "scroll";
      const d = document.createElement("div");
      d.className = "dm " + mode; d.textContent = e.text; d.style.color = e.color || "#fff";
      if (e.id !== undefined) d.dataset.id = e.id;
      layer.append(d);
      const now = performance.now();
      let slot, frames;
      if (mode === "scroll") {
        slot = lanes.scroll(d.offsetWidth, now);
        if (slot) frames = [{ transform: `translateX(${slot.from}px)` }, { transform: `translateX(${slot.to}px)` }];
      } else {
        slot = lanes.fixed(mode, now);
        if (slot) frames = [{ opacity: 1 }, { opacity: 1, offset: 0.9 }, { opacity: 0 }];
      }
      if (!slot) { d.remove(); return null; } // every lane is taken: the chat still has it
      d.style.top = slot.top + "px";
      d.animate(frames, { duration: slot.duration, easing: "linear", fill: "forwards" }).onfinish = () => d.remove();
      return d;
    }

    function relabel() { renderAngles(); show(S.status, S.detail); }

    show("none");
    return { setPlayback, fly, relabel, video, layer, get status() { return S.status; }, get url() { return S.url; } };
  }

  root.MarqueeStage = { create, STRINGS };
})(typeof self !== "undefined" ? self : this);
