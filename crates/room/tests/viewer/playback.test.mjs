// The viewer page plays the show: `marquee live` pushes to a real nginx-rtmp with `hls on`
// (two stream keys: two camera angles), sets the room's playback URLs with a host token
// (`--playback`), a real `marquee room serve` hands them to the page, and headless Chromium
// plays them with hls.js (and a third angle, HTTP-FLV from a gateway, with mpegts.js): frames advance, a viewer's danmaku flies over the video (a screenshot
// is saved in artifacts/), the angle switch changes the source and is remembered, a phone
// held upright gets the video on top and the chat below.
//
// Needs: the `marquee` binary (MARQUEE_BIN), nginx with the RTMP module (`apt-get install -y
// nginx libnginx-mod-rtmp`), ffmpeg, Chromium with H.264 (Debian's `chromium`), `npm install` here.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, existsSync, rmSync, chmodSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer } from "node:net";
import { createServer as createHttpServer } from "node:http";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const BIN = process.env.MARQUEE_BIN;
const CHROME = process.env.CHROMIUM || "/usr/bin/chromium";
const RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so";
if (!BIN || !existsSync(BIN)) throw new Error("set MARQUEE_BIN to the `marquee` binary built by: cargo build -p marquee-cli");
if (!existsSync(CHROME)) throw new Error("Chromium missing; install it with: apt-get install -y chromium");
if (!existsSync(RTMP_MODULE)) throw new Error("nginx-rtmp missing; install it with: apt-get install -y nginx libnginx-mod-rtmp");
try { execFileSync("ffmpeg", ["-version"], { stdio: "ignore" }); } catch { throw new Error("ffmpeg missing (the HTTP-FLV gateway); install it with: apt-get install -y ffmpeg"); }

const here = dirname(fileURLToPath(import.meta.url));
const artifacts = process.env.ARTIFACTS ?? join(here, "artifacts");
mkdirSync(artifacts, { recursive: true });
const dir = mkdtempSync(join(tmpdir(), "mq-playback-"));
const procs = [];
let nginxProc;
after(async () => {
  for (const p of procs) p.kill("SIGKILL");
  // nginx's master stops its workers (SIGTERM); killed outright they would go on writing.
  if (nginxProc && nginxProc.exitCode === null) {
    const exited = new Promise((r) => nginxProc.once("exit", r));
    nginxProc.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  }
  rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
});

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on("error", reject);
  });
}

function lines(stream) {
  const out = [];
  const waiters = [];
  createInterface({ input: stream }).on("line", (l) => { out.push(l); for (const w of [...waiters]) w(); });
  return {
    out,
    until(pred, ms = 20000) {
      return new Promise((resolve, reject) => {
        const check = () => { const hit = out.find(pred); if (hit) { clearTimeout(timer); resolve(hit); return true; } return false; };
        const timer = setTimeout(() => reject(new Error("timed out; saw:\n" + out.join("\n"))), ms);
        if (!check()) waiters.push(check);
      });
    },
  };
}

function readLog(path) {
  try { return readFileSync(path, "utf8").slice(-2000); } catch { return ""; }
}

async function until(what, fn, ms = 30000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("timed out waiting for " + what + " (last: " + JSON.stringify(last) + ")");
}

/** nginx-rtmp with `hls on`, and nginx's HTTP serving the playlists with CORS: the viewer page
 *  is on the room server's origin, the playlists on nginx's. */
/** An HTTP-FLV gateway as SRS's or nginx-http-flv's: each GET /live/NAME.flv plays that stream
 *  from nginx-rtmp (ffmpeg pulling RTMP, remuxing to FLV without re-encoding) and sends it as
 *  one endless HTTP body, with CORS; a stream not live yet is a 404 (the page retries). */
async function startFlvGateway(rtmpPort) {
  const server = createHttpServer((req, res) => {
    const m = /^\/live\/([\w-]+)\.flv$/.exec(req.url ?? "");
    const cors = { "access-control-allow-origin": "*" };
    if (!m) { res.writeHead(404, cors).end(); return; }
    const ff = spawn("ffmpeg", ["-loglevel", "error", "-i", `rtmp://127.0.0.1:${rtmpPort}/live/${m[1]}`, "-c", "copy", "-f", "flv", "-"], { stdio: ["ignore", "pipe", "ignore"] });
    procs.push(ff);
    let started = false;
    ff.stdout.once("data", () => { started = true; res.writeHead(200, { ...cors, "content-type": "video/x-flv", "cache-control": "no-cache" }); });
    ff.stdout.on("data", (chunk) => { if (started) res.write(chunk); });
    ff.once("exit", () => { if (!started) res.writeHead(404, cors); res.end(); });
    req.once("close", () => ff.kill("SIGKILL"));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  after(() => server.close());
  return server.address().port;
}

async function startNginx() {
  const rtmp = await freePort();
  const http = await freePort();
  const hls = join(dir, "hls");
  mkdirSync(hls);
  mkdirSync(join(dir, "logs"));
  // The worker runs as nobody when the master is root: it writes the segments and serves them.
  chmodSync(dir, 0o755);
  chmodSync(hls, 0o777);
  writeFileSync(join(dir, "nginx.conf"), `load_module ${RTMP_MODULE};
daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 256; }
rtmp {
  server {
    listen 127.0.0.1:${rtmp};
    application live {
      live on;
      hls on;
      hls_path ${hls};
      hls_fragment 1s;
      hls_playlist_length 6s;
    }
  }
}
http {
  access_log off;
  types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
  server {
    listen 127.0.0.1:${http};
    location /hls/ {
      alias ${hls}/;
      add_header Access-Control-Allow-Origin * always;
      add_header Cache-Control no-cache always;
    }
  }
}
`);
  const p = spawn("nginx", ["-p", dir + "/", "-e", join(dir, "error.log"), "-c", join(dir, "nginx.conf")], { stdio: ["ignore", "ignore", "pipe"] });
  nginxProc = p;
  let stderr = "";
  p.stderr.on("data", (d) => { stderr += d; });
  await until("nginx to listen", async () => {
    if (p.exitCode !== null) throw new Error("nginx exited: " + stderr + readLog(join(dir, "error.log")));
    try { return (await fetch(`http://127.0.0.1:${http}/hls/none.m3u8`)).status === 404; } catch { return false; }
  }, 15000);
  return { rtmp, http };
}

test("the viewer page plays the show's HLS with danmaku over it, switches angles, fits a phone", async () => {
  const nginx = await startNginx();
  const secretFile = join(dir, "room.secret");
  writeFileSync(secretFile, "playback-e2e-secret-0123456789");
  const host = execFileSync(BIN, ["room", "token", "--room", "show", "--user", "host", "--role", "host", "--secret-file", secretFile]).toString().trim();

  const server = spawn(BIN, ["room", "serve", "--listen", "127.0.0.1:0", "--db", join(dir, "room.db"), "--secret-file", secretFile]);
  procs.push(server);
  const addr = (await lines(server.stdout).until((l) => l.startsWith("room server on "))).split(" ")[3];
  const page = `http://${addr}/room/show`;
  const opened = await fetch(`http://${addr}/api/rooms/show`, { method: "PUT", headers: { authorization: `Bearer ${host}` } });
  assert.equal(opened.status, 200, await opened.text());

  // The players are served by the room itself, with content types and caching.
  const hlsJs = await fetch(`http://${addr}/viewer/hls-1.7.4.light.min.js`);
  assert.equal(hlsJs.headers.get("content-type"), "text/javascript; charset=utf-8");
  assert.match(hlsJs.headers.get("cache-control"), /immutable/);
  const playerJs = await fetch(`http://${addr}/viewer/player.js`);
  assert.equal(playerJs.headers.get("cache-control"), "no-cache");
  const again = await fetch(`http://${addr}/viewer/player.js`, { headers: { "if-none-match": playerJs.headers.get("etag") } });
  assert.equal(again.status, 304);

  const browser = await chromium.launch({ executablePath: CHROME, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] });
  try {
    const viewer = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors = [];
    viewer.on("pageerror", (e) => errors.push(String(e)));
    await viewer.goto(page);
    await viewer.fill("[data-testid=nick]", "小红");
    await viewer.click("[data-testid=join]");
    await viewer.waitForSelector("#status.live");
    // No playback URL yet: the page says so.
    await viewer.waitForSelector("#stage[data-playback=none]");
    assert.match(await viewer.textContent("[data-testid=stage-state]"), /playback URL|播放地址/);

    // Go live to two stream keys (two angles) and set both as the room's playback URLs.
    const stage = `http://127.0.0.1:${nginx.http}/hls/stage.m3u8`;
    const close = `http://127.0.0.1:${nginx.http}/hls/close.m3u8`;
    const flv = `http://127.0.0.1:${await startFlvGateway(nginx.rtmp)}/live/stage.flv`;
    const live = spawn(BIN, [
      "live", "--video", "test", "--audio", "tone", "--size", "640x360", "--fps", "30", "--duration", "180s",
      "--to", `rtmp://127.0.0.1:${nginx.rtmp}/live/stage`, "--to", `rtmp://127.0.0.1:${nginx.rtmp}/live/close`,
      "--danmaku-from", page, "--danmaku-token", host,
      "--playback", `stage=${stage}`, "--playback", `close-up=${close}`, "--playback", `flv=${flv}`,
    ], { env: { ...process.env, MARQUEE_CONFIG: join(dir, "config.toml") } });
    procs.push(live);
    const liveErr = lines(live.stderr);
    await liveErr.until((l) => l.includes("playback: the viewer page plays 3 URL(s)"), 60000);

    // The page learns the URLs; before the first segment exists it waits and retries by itself.
    await viewer.waitForSelector("[data-testid=angle]:has-text('close-up')");
    await viewer.waitForSelector("#stage[data-playback=playing]", { timeout: 60000 });
    assert.equal(await viewer.evaluate(() => player.url), stage);

    // Frames advance: currentTime grows and the compositor presents new frames.
    const frames = () => viewer.evaluate(() => new Promise((resolve) => {
      const v = document.querySelector("[data-testid=video]");
      const t0 = v.currentTime;
      let n = 0;
      const count = () => { n++; if (n < 20) v.requestVideoFrameCallback(count); else resolve({ n, grew: v.currentTime - t0, w: v.videoWidth, h: v.videoHeight }); };
      v.requestVideoFrameCallback(count);
      setTimeout(() => resolve({ n, grew: v.currentTime - t0, w: v.videoWidth, h: v.videoHeight }), 8000);
    }));
    const f = await frames();
    assert.ok(f.n >= 20 && f.grew > 0.3, JSON.stringify(f));
    assert.deepEqual([f.w, f.h], [640, 360]);
    assert.ok(await viewer.evaluate(() => document.querySelector("[data-testid=video]").muted), "muted autoplay");
    assert.ok(await viewer.isVisible("[data-testid=unmute]"), "a tap-to-unmute button");

    // A viewer's danmaku flies over the video: inside the picture's box, in a lane.
    await viewer.fill("[data-testid=danmaku-input]", "弹幕飞过画面 over the video");
    await viewer.click("[data-testid=danmaku-send]");
    const dm = "[data-testid=danmaku-layer] .dm:has-text('弹幕飞过画面')";
    await viewer.waitForSelector(dm);
    const inside = await until("the danmaku inside the video's box", () => viewer.evaluate(() => {
      const d = document.querySelector("[data-testid=danmaku-layer] .dm").getBoundingClientRect();
      const v = document.querySelector("[data-testid=video]").getBoundingClientRect();
      const ok = d.left >= v.left && d.right <= v.right && d.top >= v.top && d.bottom <= v.bottom && d.width > 50;
      return ok && { d: [d.left, d.top, d.right, d.bottom], v: [v.left, v.top, v.right, v.bottom] };
    }), 10000);
    await viewer.locator("#stage").screenshot({ path: join(artifacts, "viewer-danmaku-over-video.png") });
    console.log("danmaku box", JSON.stringify(inside), "→", join(artifacts, "viewer-danmaku-over-video.png"));

    // The host deletes it from the chat: it vanishes from over the video too.
    const hostPage = await browser.newPage();
    await hostPage.goto(`${page}#token=${host}`);
    await hostPage.waitForSelector("#status.live");
    await viewer.fill("[data-testid=danmaku-input]", "删掉我 delete me");
    await viewer.click("[data-testid=danmaku-send]");
    const doomed = "[data-testid=danmaku-layer] .dm:has-text('delete me')";
    await viewer.waitForSelector(doomed);
    await hostPage.click("#chat li:has-text('delete me') .del");
    await viewer.waitForSelector(doomed, { state: "detached", timeout: 5000 });
    await hostPage.close();

    // Another angle: the source changes, frames advance again, and the choice is remembered.
    const before = await viewer.evaluate(() => document.querySelector("[data-testid=video]").src);
    await viewer.click("[data-testid=angle]:has-text('close-up')");
    await viewer.waitForSelector("[data-testid=angle][aria-pressed=true]:has-text('close-up')");
    assert.equal(await viewer.evaluate(() => player.url), close);
    await viewer.waitForSelector("#stage[data-playback=playing]", { timeout: 30000 });
    assert.notEqual(await viewer.evaluate(() => document.querySelector("[data-testid=video]").src), before);
    const g = await frames();
    assert.ok(g.n >= 20 && g.grew > 0.3, JSON.stringify(g));
    await viewer.reload();
    await viewer.waitForSelector("#status.live");
    await viewer.waitForSelector("[data-testid=angle][aria-pressed=true]:has-text('close-up')");

    // An HTTP-FLV angle plays through mpegts.js.
    await viewer.click("[data-testid=angle]:has-text('flv')");
    await viewer.waitForSelector("[data-testid=angle][aria-pressed=true]:has-text('flv')");
    assert.equal(await viewer.evaluate(() => player.url), flv);
    await viewer.waitForSelector("#stage[data-playback=playing]", { timeout: 30000 });
    assert.ok(await viewer.evaluate(() => typeof window.mpegts === "object"), "mpegts.js loaded for the .flv URL");
    const h = await frames();
    assert.ok(h.n >= 20 && h.grew > 0.3, JSON.stringify(h));
    assert.deepEqual([h.w, h.h], [640, 360]);
    assert.deepEqual(errors, []);

    // A phone held upright: video on top (full width), chat below, touch-sized controls.
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2, locale: "zh-CN" });
    const mobile = await phone.newPage();
    await mobile.goto(page);
    await mobile.fill("[data-testid=nick]", "手机观众");
    await mobile.tap("[data-testid=join]");
    await mobile.waitForSelector("#status.live");
    await mobile.waitForSelector("#stage[data-playback=playing]", { timeout: 60000 });
    const layout = await mobile.evaluate(() => {
      const r = (s) => document.querySelector(s).getBoundingClientRect();
      const angle = r("[data-testid=angle]");
      return { stage: r("#stage"), chat: r("#chat"), angleH: angle.height, send: r("[data-testid=danmaku-send]").height, lang: document.documentElement.lang };
    });
    assert.ok(layout.stage.width >= 380, JSON.stringify(layout));
    assert.ok(layout.stage.top < 80 && layout.chat.top > layout.stage.bottom, JSON.stringify(layout));
    assert.ok(layout.angleH >= 40 && layout.send >= 40, JSON.stringify(layout));
    assert.equal(layout.lang, "zh-CN");
    await mobile.screenshot({ path: join(artifacts, "viewer-phone-portrait.png") });
    await phone.close();
  } finally {
    await browser.close();
  }
});
