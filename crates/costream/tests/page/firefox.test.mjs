// The guest page in Firefox against the real host: `marquee live --guests 1` prints an invite
// link; headless Firefox ESR (driven over WebDriver BiDi by Puppeteer) with its fake devices
// opens it, joins, is on air for about 8 s and leaves. Firefox's fake camera is a full-frame
// colour that changes every frame and its fake microphone a 1000 Hz tone, so the host's
// recording shows the right half of the side-by-side program as one changing colour during the
// call (the host's colour bars after it), and has the 1000 Hz tone during the call only, over
// the host's own 440 Hz. Chromium is host.test.mjs; this one proves the page, the SDP the host
// answers and its media work with Gecko's WebRTC as well.
//
// Needs: the `marquee` binary (MARQUEE_BIN), ffmpeg, Firefox ESR (/usr/bin/firefox-esr or
// FIREFOX), a non-loopback IPv4 address, `npm install` here.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import puppeteer from "puppeteer-core";
import { Scratch, need, outwardAddress, startHost, waitExit, assertHeardDuringTheCallOnly, cellsOf, state, until }
  from "./support.mjs";

const FIREFOX = process.env.FIREFOX || "/usr/bin/firefox-esr";
need([["ffmpeg", "ffmpeg"]]);
if (!existsSync(FIREFOX)) throw new Error("Firefox missing; install it with: apt-get install -y firefox-esr");

const HOST_HZ = 440;
const GUEST_HZ = 1000; // Firefox's fake microphone
const ON_AIR_MS = 8000;

const scratch = new Scratch("mq-costream-firefox-");
after(() => scratch.cleanup());

/** Headless Firefox with its fake camera and microphone granted without a prompt. The CLI
 *  serves its links over plain http (a real deployment puts TLS in front), so the host's
 *  address is declared a secure context for the test, as host.test.mjs does for Chromium. */
async function launch(hostname) {
  const b = await puppeteer.launch({ browser: "firefox", executablePath: FIREFOX, headless: true,
    extraPrefsFirefox: { "media.navigator.streams.fake": true, "media.navigator.permission.disabled": true,
      "dom.securecontext.allowlist": hostname, "media.autoplay.default": 0 } });
  scratch.browsers.push(b);
  return b;
}

/** Firefox's view of the call, for the failure message and the log. */
const report = (page) => page.evaluate(async () => {
  const pc = window.marqueeGuest.pc;
  if (!pc) return "no peer connection";
  const out = { ice: pc.iceConnectionState, conn: pc.connectionState };
  (await pc.getStats()).forEach((s) => {
    if (s.type === "outbound-rtp" || s.type === "inbound-rtp") {
      out[`${s.type.slice(0, -4)} ${s.kind}`] = `${s.bytesSent ?? s.bytesReceived} B` + (s.kind === "video"
        ? ` ${s.framesEncoded ?? s.framesDecoded} frames` : "");
    }
  });
  out.codecs = [...(pc.remoteDescription?.sdp ?? "").matchAll(/^a=rtpmap:\d+ ([\w-]+)\//gm)].map((m) => m[1]).join(" ");
  return JSON.stringify(out);
}).catch((e) => `no stats: ${e.message}`);

/** A picture's mean colour, [r, g, b], from its cells. */
const meanColour = (cells) => [0, 1, 2].map((c) => cells.filter((_, i) => i % 3 === c).reduce((a, v) => a + v, 0) / (cells.length / 3));

/** How far a picture's cells are from their mean colour: near 0 for one flat colour. */
function spread(cells) {
  const mean = meanColour(cells);
  return cells.reduce((s, v, i) => s + Math.abs(v - mean[i % 3]), 0) / cells.length;
}

test("a Firefox guest joins the real host from the link, is seen and heard in the show and gets the return feed", { timeout: 180000 }, async (t) => {
  t.after(() => { scratch.failed ||= !t.passed; });
  const ip = await outwardAddress();
  const show = join(scratch.dir, "show.mkv");
  const host = await startHost(scratch, "host-firefox", HOST_HZ, ["--record", show, "--guest-address", ip, "--duration", "30s"]);
  const link = new URL(host.link);
  assert.match(link.pathname, /^\/join\/[\w-]{22}$/);

  const browser = await launch(link.hostname);
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // ?raw=1: no echo cancellation, noise suppression or gain control on the measured tone.
  await page.goto(`${host.link}?raw=1`);
  await until(page, "preview");
  await page.waitForFunction(() => !document.getElementById("join").disabled, { timeout: 10000 });
  await page.type("#name", "Fox 火狐");
  await page.click("#join");
  await until(page, "on_air", 30000).catch(async (e) => {
    throw new Error(`${e.message}; ${await report(page)}`);
  });
  const onAirAt = (Date.now() - host.startedAt) / 1000;
  // The return feed's picture arrives in Firefox too.
  await page.waitForFunction(() => document.getElementById("remote").videoWidth > 0, { timeout: 15000 })
    .catch(async () => assert.fail(`no return feed in Firefox; ${await report(page)}`));
  // The length of the call, not a wait for something to happen.
  await new Promise((r) => setTimeout(r, ON_AIR_MS));
  assert.equal(await state(page), "on_air", "still on air at the end of the call");
  const stats = await report(page);
  await page.click("#leave");
  await until(page, "left");
  const leftAt = (Date.now() - host.startedAt) / 1000;
  assert.deepEqual(errors, []);
  await browser.close();

  assert.deepEqual(await waitExit(host, 90000), { code: 0, signal: null }, "the host exits cleanly");
  const during = (s) => s >= onAirAt + 1.5 && s + 1 <= leftAt - 0.5;
  const afterCall = (s) => s >= leftAt + 2;

  // The right half of the side-by-side program: Firefox's camera (one flat colour, another
  // each frame) during the call; the host's colour bars (not flat) after it.
  const FPS = 5;
  const shots = cellsOf(show, "crop=640:360:640:180,", FPS).map((c, i) => ({ s: i / FPS, c, spread: spread(c) }));
  const inCall = shots.filter((x) => during(x.s));
  const outCall = shots.filter((x) => afterCall(x.s));
  const trace = shots.map((x) => `${x.s.toFixed(1)}:${x.spread.toFixed(0)}`).join(" ");
  assert.ok(inCall.length >= 20 && outCall.length >= 20, `call ${onAirAt}–${leftAt} s; ${trace}`);
  const flat = inCall.filter((x) => x.spread < 10).length;
  assert.ok(flat >= 0.9 * inCall.length,
    `Firefox's flat-colour camera is in the right half in ${flat} of ${inCall.length} shots during the call (on air ${onAirAt.toFixed(1)}–${leftAt.toFixed(1)} s); spread per shot: ${trace}`);
  // Its colour drifts a little every frame: a second apart, the mean colour has moved (a
  // frozen picture would repeat it).
  const colours = inCall.map((x) => meanColour(x.c));
  const frozen = colours.slice(FPS).filter((c, i) => Math.max(...c.map((v, k) => Math.abs(v - colours[i][k]))) < 4);
  assert.ok(frozen.length === 0,
    `the camera's colour moves every second (a live picture): ${frozen.length} of ${colours.length - FPS} seconds did not; ${colours.map((c) => c.map(Math.round).join("/")).join(" ")}`);
  assert.ok(outCall.every((x) => x.spread > 30), `the camera is gone after the call: ${trace}`);

  // Firefox's tone is in the program while on air and gone after; the host's throughout.
  const margin = assertHeardDuringTheCallOnly(show, { who: "Firefox", guestHz: GUEST_HZ, hostHz: HOST_HZ,
    during, afterCall, call: `${onAirAt}–${leftAt} s` });
  console.log(`Firefox on air ${onAirAt.toFixed(1)}–${leftAt.toFixed(1)} s; tone ${margin.toFixed(1)} dB over after-call; ${stats}`);
});
