// A guest who can only reach the host through a TURN relay: a real coturn (started here on
// ports of its own, one long-term user) relays for headless Chromium told to use relay
// candidates only (iceTransportPolicy "relay", as a browser behind a strict NAT or firewall
// ends up doing). The host, `marquee live --guests 1`, hands the relay to the guest in the
// invite's /info (`--guest-turn … --guest-turn-credential key:NAME`, the credential read from
// a real OS keychain: gnome-keyring on a private D-Bus), and asks the same coturn for its own
// address (`--stun`): the answer carries a server-reflexive candidate. The guest's camera
// reaches the program (checked in the host's recording) over a relay-to-host candidate pair.
// Twice: the browser reaching coturn over UDP, then over TCP only (`turn:…?transport=tcp`, what
// a network that lets no UDP out leaves; coturn relays to the host over UDP either way).
//
// Needs: the `marquee` binary (MARQUEE_BIN, default target/debug/marquee), ffmpeg, Chromium,
// coturn (`turnserver`), dbus + gnome-keyring, a non-loopback IPv4 address, `npm install` here.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { createSocket } from "node:dgram";
import { randomBytes } from "node:crypto";
import { chromium } from "playwright-core";
import { BIN, Scratch, need, outwardAddress, inviteOf, cellsOf, distance } from "./support.mjs";

const CHROME = process.env.CHROMIUM || "/usr/bin/chromium";
need([["turnserver", "coturn"], ["dbus-run-session", "dbus"], ["gnome-keyring-daemon", "gnome-keyring"], ["ffmpeg", "ffmpeg"]]);
if (!existsSync(CHROME)) throw new Error("Chromium missing; install it with: apt-get install -y chromium");

const ON_AIR_MS = 6000;
const scratch = new Scratch("mq-costream-relay-");
const dir = scratch.dir;
const browsers = scratch.browsers;
after(() => scratch.cleanup());
const track = (name, proc) => scratch.track(name, proc);

/** A UDP port free now (coturn cannot be told to take any). */
async function freePort() {
  return new Promise((resolve) => {
    const s = createSocket("udp4");
    s.bind(0, "0.0.0.0", () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

/** Whether a STUN Binding request to `ip:port` is answered within `ms` (the server is up). */
async function stunAnswers(ip, port, ms) {
  const req = Buffer.alloc(20);
  req.writeUInt16BE(0x0001, 0);
  req.writeUInt32BE(0x2112a442, 4);
  randomBytes(12).copy(req, 8);
  return new Promise((resolve) => {
    const s = createSocket("udp4");
    const done = (v) => { clearTimeout(timer); s.close(); resolve(v); };
    const timer = setTimeout(() => done(false), ms);
    s.on("message", (m) => { if (m.length >= 20 && m.readUInt16BE(0) === 0x0101) done(true); });
    s.on("error", () => done(false));
    s.send(req, port, ip);
  });
}

/** coturn on `ip` and loopback, one long-term user, relaying from `ip`; resolves once it
 *  answers STUN. */
async function startTurn(ip, user, secret) {
  const port = await freePort();
  const low = 40000 + (process.pid % 200) * 100;
  const home = join(dir, "turn");
  mkdirSync(home, { recursive: true });
  const proc = spawn("turnserver", ["-n", "--listening-ip", ip, "--listening-ip", "127.0.0.1", "--relay-ip", ip,
    "--listening-port", String(port), "--min-port", String(low), "--max-port", String(low + 99),
    "--lt-cred-mech", "--user", `${user}:${secret}`, "--realm", "marquee.test", "--no-tls", "--no-dtls", "--no-cli",
    "--no-tcp-relay", "--userdb", join(home, "turndb"), "--pidfile", join(home, "turn.pid"),
    "--log-file", "stdout", "--simple-log", "--verbose"], { stdio: ["ignore", "pipe", "pipe"] });
  const t = track("coturn", proc);
  for (const deadline = Date.now() + 15000; ;) {
    if (t.proc.exitCode !== null) throw new Error(`coturn exited: ${[...t.out, ...t.err].join("\n")}`);
    if (await stunAnswers("127.0.0.1", port, 300)) break;
    if (Date.now() > deadline) throw new Error(`coturn did not answer STUN within 15 s: ${[...t.out, ...t.err].join("\n")}`);
  }
  return { ...t, port };
}

/** `marquee live --guests 1` under a private D-Bus with an unlocked gnome-keyring holding the
 *  TURN credential as `turnpw`; resolves with the link once printed. */
async function startHost(name, secret, args) {
  const env = { ...scratch.home(name).env, MQ_BIN: BIN, MQ_TURN_SECRET: secret };
  const script = 'printf %s unlock | gnome-keyring-daemon --unlock --components=secrets >/dev/null && ' +
    'printf %s "$MQ_TURN_SECRET" | "$MQ_BIN" key set turnpw && unset MQ_TURN_SECRET && exec "$MQ_BIN" live "$@"';
  const proc = spawn("dbus-run-session", ["--", "sh", "-c", script, "sh", "--video", "test", "--audio", "tone:440",
    "--size", "1280x720", "--fps", "30", "--preset", "ultrafast", "--replay-seconds", "0", "--guests", "1", ...args],
  { env, stdio: ["ignore", "pipe", "pipe"] });
  const h = track(name, proc);
  const link = await inviteOf(h);
  h.startedAt = Date.now();
  return { ...h, link };
}

/** A call from a browser guest limited to relay candidates, reaching coturn over `transport`
 *  (udp, or tcp: what a network that blocks UDP leaves), seen in the host's recording. */
async function relayedCall(t, transport) {
  t.after(() => { scratch.failed ||= !t.passed; });
  const ip = await outwardAddress();
  const secret = randomBytes(12).toString("hex");
  const turn = await startTurn(ip, "guest", secret);
  const wav = join(dir, `tone-${transport}.wav`);
  const y4m = join(dir, `camera-${transport}.y4m`);
  execFileSync("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000",
    "-t", "20", "-ac", "1", "-c:a", "pcm_s16le", wav]);
  execFileSync("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
    "-t", "4", "-pix_fmt", "yuv420p", y4m]);
  const show = join(dir, `show-${transport}.mkv`);
  const turnUrl = `turn:${ip}:${turn.port}?transport=${transport}`;
  // Only the LAN address as a host candidate; STUN asked over loopback sees the host at
  // 127.0.0.1, an address that is not one of them, so the answer keeps it as srflx.
  const host = await startHost(`host-${transport}`, secret, ["--record", show, "--guest-address", ip, "--duration", "25s",
    "--stun", `stun:127.0.0.1:${turn.port}`, "--guest-turn", turnUrl, "--guest-turn-user", "guest",
    "--guest-turn-credential", "key:turnpw"]);
  const link = new URL(host.link);

  const info = await (await fetch(`${host.link}/info`)).json();
  assert.deepEqual(info.ice_servers, [{ urls: [turnUrl], username: "guest", credential: secret }]);
  assert.ok(![...host.out, ...host.err].join("\n").includes(secret), "the credential is never printed");

  const browser = await chromium.launch({ executablePath: CHROME, args: ["--no-sandbox", "--disable-gpu",
    "--disable-background-networking", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
    `--use-file-for-fake-video-capture=${y4m}`, `--use-file-for-fake-audio-capture=${wav}`,
    `--unsafely-treat-insecure-origin-as-secure=${link.origin}`, "--autoplay-policy=no-user-gesture-required"] });
  browsers.push(browser);
  const page = await (await browser.newContext()).newPage();
  // What a browser behind a strict NAT is left with: relay candidates only. The page's own
  // configuration (the ice_servers from /info) is kept; only the policy is forced.
  await page.addInitScript(() => {
    const Native = window.RTCPeerConnection;
    window.RTCPeerConnection = function (config) {
      return new Native({ ...(config || {}), iceTransportPolicy: "relay" });
    };
    window.RTCPeerConnection.prototype = Native.prototype;
  });
  await page.goto(host.link);
  await page.waitForFunction(() => document.body.dataset.state === "preview", null, { timeout: 20000 });
  await page.waitForFunction(() => !document.getElementById("join").disabled);
  await page.click("#join");
  await page.waitForFunction(() => document.body.dataset.state === "on_air", null, { timeout: 30000 })
    .catch(async (e) => { throw new Error(`${e.message}; ${await page.evaluate(() => document.body.dataset.state)}`); });
  const onAirAt = (Date.now() - host.startedAt) / 1000;
  // The length of the call, not a wait for something to happen.
  await new Promise((r) => setTimeout(r, ON_AIR_MS));

  const report = await page.evaluate(async () => {
    const pc = window.marqueeGuest.pc;
    const stats = await pc.getStats();
    const byId = new Map();
    stats.forEach((s) => byId.set(s.id, s));
    let pair = null;
    stats.forEach((s) => { if (s.type === "transport" && s.selectedCandidatePairId) pair = byId.get(s.selectedCandidatePairId); });
    if (!pair) stats.forEach((s) => { if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") pair = s; });
    const local = pair && byId.get(pair.localCandidateId);
    const remote = pair && byId.get(pair.remoteCandidateId);
    const relayProtocol = local?.relayProtocol;
    let framesSent = 0;
    stats.forEach((s) => { if (s.type === "outbound-rtp" && s.kind === "video") framesSent += s.framesEncoded || 0; });
    return { local: local && `${local.candidateType} ${local.address}:${local.port}`,
      remote: remote && `${remote.candidateType} ${remote.address}:${remote.port}`,
      relayProtocol, bytesSent: pair?.bytesSent, framesSent, answer: pc.remoteDescription?.sdp ?? "" };
  });
  console.log(`selected pair: ${report.local} → ${report.remote}; ${report.bytesSent} B, ${report.framesSent} frames sent`);
  assert.match(report.local ?? "", /^relay /, "the guest's side of the selected pair is the TURN relay");
  assert.equal(report.relayProtocol, transport, `the browser reaches the relay over ${transport}`);
  assert.match(report.remote ?? "", new RegExp(`^host ${ip.replace(/\./g, "\\.")}:`), "relayed to the host's own address");
  assert.match(report.answer, /127\.0\.0\.1 \d+ typ srflx/, `the answer carries the address STUN saw: ${report.answer}`);
  await page.click("#leave");
  await page.waitForFunction(() => document.body.dataset.state === "left", null, { timeout: 10000 });
  const leftAt = (Date.now() - host.startedAt) / 1000;
  await browser.close();

  const exit = await host.exited;
  assert.deepEqual(exit, { code: 0, signal: null }, "the host exits cleanly");
  assert.ok(![...host.out, ...host.err].join("\n").includes(secret), "the credential is never printed");
  // The right half of the side-by-side program is the guest's camera while on air.
  const reference = cellsOf(y4m, "", 0)[0];
  const FPS = 5;
  const shots = cellsOf(show, "crop=640:360:640:180,", FPS).map((c, i) => ({ s: i / FPS, d: distance(c, reference) }));
  const inCall = shots.filter((x) => x.s >= onAirAt + 1.5 && x.s + 1 <= leftAt - 0.5);
  const trace = shots.map((x) => `${x.s.toFixed(1)}:${x.d.toFixed(0)}`).join(" ");
  assert.ok(inCall.length >= 10, `call ${onAirAt}–${leftAt} s; ${trace}`);
  const seen = inCall.filter((x) => x.d < 25).length;
  assert.ok(seen >= 0.9 * inCall.length, `the relayed camera is in the program in ${seen} of ${inCall.length} shots: ${trace}`);
}

test("a guest who can only use a TURN relay joins through coturn and is seen in the show", { timeout: 150000 },
  (t) => relayedCall(t, "udp"));

test("a guest that reaches the TURN relay only over TCP (a network that lets no UDP out) joins and is seen in the show", { timeout: 150000 },
  (t) => relayedCall(t, "tcp"));
