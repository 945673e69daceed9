// The guest page in a real browser against the real host: `marquee live --guests 1` prints an
// invite link and serves the page and WHIP at it; headless Chromium with a fake camera (a
// testsrc2 y4m) and a fake microphone (a 1000 Hz WAV) opens the link, joins, is on air for
// about 8 s and leaves. The host's recording then shows the browser's camera in the right half
// of the side-by-side program and has the browser's tone in the program audio during the call
// only, over the host's own 440 Hz throughout. Refusals need a live host too: an unknown invite,
// and a host that stopped between opening the page and joining. And through a room: the host
// live in a `marquee room serve` as its host (--danmaku-from with the host key), the link under
// the room's viewer page; the browser joins there, gets the return feed straight from the host,
// and hears through the room that the show ended.
//
// Needs: the `marquee` binary (MARQUEE_BIN, default target/debug/marquee; built by
// `cargo build -p marquee-cli`), ffmpeg, Chromium (/usr/bin/chromium or CHROMIUM), a
// non-loopback IPv4 address (Chromium offers no loopback ICE candidates), `npm install` here.
// MARQUEE_LOG (e.g. str0m=debug,marquee_costream=debug,warn) is passed to the host; its stderr
// is printed when a test fails.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";
import { BIN, RATE, Scratch, need, outwardAddress, startHost as startLive, waitExit, assertHeardDuringTheCallOnly,
  cellsOf, distance, state, until } from "./support.mjs";

const CHROME = process.env.CHROMIUM || "/usr/bin/chromium";
need([["ffmpeg", "ffmpeg"]]);
if (!existsSync(CHROME)) throw new Error("Chromium missing; install it with: apt-get install -y chromium");

const HOST_HZ = 440;
const GUEST_HZ = 1000;
const ON_AIR_MS = 8000;

const scratch = new Scratch("mq-costream-host-");
const dir = scratch.dir;
const browsers = scratch.browsers;
after(() => scratch.cleanup());

/** The fake devices: a 1000 Hz tone at 48 kHz and testsrc2 at 640×360 (Chromium loops both). */
function makeMedia() {
  const wav = join(dir, "tone.wav");
  const y4m = join(dir, "camera.y4m");
  execFileSync("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", `sine=frequency=${GUEST_HZ}:sample_rate=${RATE}`,
    "-t", "30", "-ac", "1", "-c:a", "pcm_s16le", wav]);
  execFileSync("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
    "-t", "4", "-pix_fmt", "yuv420p", y4m]);
  return { wav, y4m };
}

/** `marquee live` with one guest slot (the test card and a 440 Hz tone); resolves once the
 *  invite is printed. */
const startHost = (name, extra) => startLive(scratch, name, HOST_HZ, extra);

/** Headless Chromium whose camera and microphone are the given files. The CLI serves its links
 *  over plain http (a real deployment puts TLS in front: browsers grant the camera only on
 *  secure pages), so this one origin is declared secure for the test. */
async function launch(origin, media) {
  const b = await chromium.launch({ executablePath: CHROME, args: ["--no-sandbox", "--disable-gpu",
    "--disable-background-networking", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
    `--use-file-for-fake-video-capture=${media.y4m}`, `--use-file-for-fake-audio-capture=${media.wav}`,
    `--unsafely-treat-insecure-origin-as-secure=${origin}`, "--autoplay-policy=no-user-gesture-required"] });
  browsers.push(b);
  return b;
}

/** The connection as Chromium sees it, for the failure message when a state is not reached. */
const iceReport = (page) => page.evaluate(async () => {
  const pc = window.marqueeGuest.pc;
  if (!pc) return "no peer connection";
  const out = { ice: pc.iceConnectionState, conn: pc.connectionState, pairs: [], local: [], remote: [],
    answer: [...(pc.remoteDescription?.sdp ?? "").matchAll(/^(?:m=(\w+)|a=(sendrecv|recvonly|sendonly|inactive))/gm)]
      .map((m) => m[1] || m[2]).join(" "), returnFeed: document.getElementById("remote").videoWidth };
  (await pc.getStats()).forEach((s) => {
    if (s.type === "candidate-pair") out.pairs.push(`${s.state} nominated=${s.nominated} sent=${s.bytesSent} recv=${s.bytesReceived}`);
    if (s.type === "local-candidate") out.local.push(`${s.candidateType} ${s.protocol} ${s.address}:${s.port}`);
    if (s.type === "remote-candidate") out.remote.push(`${s.candidateType} ${s.protocol} ${s.address}:${s.port}`);
    if (s.type === "outbound-rtp" || s.type === "inbound-rtp") {
      out[`${s.type.slice(0, -4)} ${s.kind}`] = `${s.bytesSent ?? s.bytesReceived} B` + (s.kind === "video"
        ? ` ${s.framesEncoded ?? s.framesDecoded} frames ${s.frameWidth ?? "?"}x${s.frameHeight ?? "?"}` : "");
    }
  });
  return JSON.stringify(out);
}).catch((e) => `no stats: ${e.message}`);

test("a browser guest joins the real host from the link and is seen and heard in the show", { timeout: 180000 }, async (t) => {
  t.after(() => { scratch.failed ||= !t.passed; });
  const ip = await outwardAddress();
  const media = makeMedia();
  const show = join(dir, "show.mkv");
  const host = await startHost("host-call", ["--record", show, "--guest-address", ip, "--duration", "30s"]);
  const link = new URL(host.link);
  assert.match(link.pathname, /^\/join\/[\w-]{22}$/);
  assert.equal(link.hostname, ip, "the link names the address guests reach");

  const browser = await launch(link.origin, media);
  const page = await (await browser.newContext()).newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // ?raw=1: no echo cancellation, noise suppression or gain control on the measured tone.
  await page.goto(`${host.link}?raw=1`);
  await until(page, "preview");
  await page.waitForFunction(() => !document.getElementById("join").disabled);
  await page.fill("#name", "Ada 浏览器");
  await page.click("#join");
  await until(page, "on_air", 30000).catch(async (e) => {
    throw new Error(`${e.message}; ${await iceReport(page)}`);
  });
  const onAirAt = (Date.now() - host.startedAt) / 1000;
  // The length of the call, not a wait for something to happen.
  await new Promise((r) => setTimeout(r, ON_AIR_MS));
  assert.equal(await state(page), "on_air", "still on air at the end of the call");
  const stats = await iceReport(page);
  const returnFeed = await page.evaluate(() => document.getElementById("remote").videoWidth);
  await page.click("#leave");
  await until(page, "left");
  const leftAt = (Date.now() - host.startedAt) / 1000;
  assert.deepEqual(errors, []);
  await browser.close();

  const exit = await waitExit(host, 90000);
  assert.deepEqual(exit, { code: 0, signal: null }, "the host exits cleanly");
  const events = host.err.join("\n");
  assert.ok(events.includes("guests-1"), "the show cut to the guests' layout");

  // Show time ≈ time since the invite was printed; a margin either side covers the start of
  // the recording, the guest's jitter buffer and the cut.
  const during = (s) => s >= onAirAt + 1.5 && s + 1 <= leftAt - 0.5;
  const afterCall = (s) => s >= leftAt + 2;

  // The right half of the side-by-side program is the browser's camera: testsrc2 (640×360,
  // the half's full width) fits at y = 180. Before and after, that region is the host's card.
  const reference = cellsOf(media.y4m, "", 0)[0];
  const FPS = 5;
  const shots = cellsOf(show, "crop=640:360:640:180,", FPS).map((c, i) => ({ s: i / FPS, d: distance(c, reference) }));
  const inCall = shots.filter((x) => during(x.s));
  const outCall = shots.filter((x) => afterCall(x.s));
  const trace = shots.map((x) => `${x.s.toFixed(1)}:${x.d.toFixed(0)}`).join(" ");
  assert.ok(inCall.length >= 20 && outCall.length >= 20, `call ${onAirAt}–${leftAt} s; ${trace}`);
  const seen = inCall.filter((x) => x.d < 25).length;
  assert.ok(seen >= 0.9 * inCall.length,
    `the browser's camera is in the right half in ${seen} of ${inCall.length} shots during the call (on air ${onAirAt.toFixed(1)}–${leftAt.toFixed(1)} s): ${trace}`);
  assert.ok(outCall.every((x) => x.d > 50), `the browser's camera is gone after the call: ${trace}`);

  // The browser's tone is in the program while on air and gone after; the host's throughout.
  const margin = assertHeardDuringTheCallOnly(show, { who: "the browser", guestHz: GUEST_HZ, hostHz: HOST_HZ,
    during, afterCall, call: `${onAirAt}–${leftAt} s` });
  const median = (xs) => xs.map((x) => x.d).sort((a, b) => a - b)[xs.length >> 1].toFixed(1);
  console.log(`right half vs testsrc2 (mean |ΔRGB|): median ${median(inCall)} during the call, ${median(outCall)} after`);
  await t.test("the browser also gets the return feed (the program, 640×360)", () => {
    assert.ok(returnFeed > 0, `the return feed's picture is ${returnFeed} px wide; ${stats}`);
  });
  console.log(`on air ${onAirAt.toFixed(1)}–${leftAt.toFixed(1)} s; guest tone ${margin.toFixed(1)} dB over after-call; ${stats}`);
});

test("an unknown invite and a host that has stopped each show their error", { timeout: 120000 }, async (t) => {
  t.after(() => { scratch.failed ||= !t.passed; });
  const ip = await outwardAddress();
  const media = existsSync(join(dir, "camera.y4m")) ? { wav: join(dir, "tone.wav"), y4m: join(dir, "camera.y4m") } : makeMedia();
  const host = await startHost("host-stops", ["--record", join(dir, "stops.mkv"), "--guest-address", ip]);
  const link = new URL(host.link);
  const browser = await launch(link.origin, media);
  const context = await browser.newContext();

  // A well-formed token the host never issued.
  const unknown = await context.newPage();
  await unknown.goto(`${link.origin}/join/AAAAAAAAAAAAAAAAAAAAAA`);
  await until(unknown, "error:invite_unknown");
  assert.ok(await unknown.isHidden("#retry"), "no way forward with a link that is not valid");

  // The page was opened while the host was live; the host stops; Join then reaches nobody
  // (connection refused): the page says it cannot reach the host and offers to try again.
  const page = await context.newPage();
  await page.goto(host.link);
  await until(page, "preview");
  await page.waitForFunction(() => !document.getElementById("join").disabled);
  host.proc.kill("SIGINT");
  assert.deepEqual(await waitExit(host, 60000), { code: 0, signal: null }, "Ctrl-C stops the host cleanly");
  await page.click("#join");
  await until(page, "error:unreachable");
  assert.ok(await page.isVisible("#retry"));

  // Opened only after the host stopped, the link serves no page at all: the browser's own
  // error, which no page of ours can replace.
  const late = await context.newPage();
  await assert.rejects(late.goto(host.link), /ERR_CONNECTION_REFUSED/);
});

test("a guest on air when the show ends is told the show has ended", { timeout: 120000 }, async () => {
  const ip = await outwardAddress();
  const media = existsSync(join(dir, "camera.y4m")) ? { wav: join(dir, "tone.wav"), y4m: join(dir, "camera.y4m") } : makeMedia();
  const host = await startHost("host-ends", ["--record", join(dir, "ends.mkv"), "--guest-address", ip, "--duration", "10s"]);
  const browser = await launch(new URL(host.link).origin, media);
  const page = await (await browser.newContext()).newPage();
  await page.goto(host.link);
  await until(page, "preview");
  await page.waitForFunction(() => !document.getElementById("join").disabled);
  await page.click("#join");
  await until(page, "on_air", 30000);
  assert.deepEqual(await waitExit(host, 60000), { code: 0, signal: null });
  // The page polls once a second: the end is shown within a few seconds, not as a lost network.
  await until(page, "ended", 5000);
});

/** `marquee room serve` on `ip` (plain http: the room of a local network), and a host key for
 *  room `name` minted with its secret. */
async function startRoom(ip, name) {
  const home = join(dir, `room-${name}`);
  mkdirSync(home, { recursive: true });
  const secret = join(home, "room.secret");
  const proc = spawn(BIN, ["room", "serve", "--listen", `${ip}:0`, "--db", join(home, "room.db"), "--secret-file", secret],
    { env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
  scratch.track(`room-${name}`, proc);
  const addr = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the room server did not start within 20 s")), 20000);
    createInterface({ input: proc.stdout }).on("line", (l) => {
      if (l.startsWith("room server on ")) { clearTimeout(timer); resolve(l.slice("room server on ".length).split(/\s/)[0]); }
    });
  });
  const key = execFileSync(BIN, ["room", "token", "--room", name, "--user", "host", "--role", "host", "--ttl", "1d",
    "--secret-file", secret]).toString().trim();
  return { url: `http://${addr}/room/${name}`, key };
}

test("a browser guest joins through the room the host is live in, and is told when the show ends", { timeout: 120000 }, async (t) => {
  t.after(() => { scratch.failed ||= !t.passed; });
  const ip = await outwardAddress();
  const media = existsSync(join(dir, "camera.y4m")) ? { wav: join(dir, "tone.wav"), y4m: join(dir, "camera.y4m") } : makeMedia();
  const room = await startRoom(ip, "duo");
  const host = await startHost("host-room", ["--danmaku-from", room.url, "--danmaku-token", room.key,
    "--guest-address", ip, "--duration", "20s"]);
  const link = new URL(host.link);
  assert.equal(link.origin + link.pathname.replace(/\/join\/[\w-]{22}$/, ""), room.url,
    "the link is under the room's viewer page: the same origin");
  // The room takes the guests once the host's door is open there.
  const deadline = Date.now() + 20000;
  while ((await fetch(`${host.link}/info`)).status !== 200) {
    assert.ok(Date.now() < deadline, "the invite's info never came back through the room");
    await new Promise((r) => setTimeout(r, 50));
  }
  const browser = await launch(link.origin, media);
  const page = await (await browser.newContext()).newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(host.link);
  await until(page, "preview");
  await page.waitForFunction(() => !document.getElementById("join").disabled);
  await page.click("#join");
  await until(page, "on_air", 30000).catch(async (e) => {
    throw new Error(`${e.message}; ${await iceReport(page)}`);
  });
  // Media goes straight to the host: the return feed's picture arrives.
  await page.waitForFunction(() => document.getElementById("remote").videoWidth > 0, null, { timeout: 15000 })
    .catch(async () => assert.fail(`no return feed; ${await iceReport(page)}`));
  assert.deepEqual(await waitExit(host, 60000), { code: 0, signal: null });
  // Told through the room, which the host leaves only once its guests have heard.
  await until(page, "ended", 5000);
  assert.deepEqual(errors, []);
});
