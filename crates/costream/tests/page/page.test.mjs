// The guest page (crates/guestdoor/assets/join.*) in headless Chromium (Playwright) against its
// dev server (assets/dev-server.mjs): the fake host answers with each error of the contract, an
// answer that never connects, or a real answer from a second tab that sends the guest's own
// media back. What the page shows is read from document.body.dataset.state. The page is served
// with a strict Content-Security-Policy (its inline bootstrap allowed by hash), as a host should.
// The Rust host end to end is another suite's job.
//
// Needs: Chromium (/usr/bin/chromium or CHROMIUM) and `npm install` here.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const CHROME = process.env.CHROMIUM || "/usr/bin/chromium";
if (!existsSync(CHROME)) throw new Error("Chromium missing; install it with: apt-get install -y chromium");
const SERVER = fileURLToPath(new URL("../../../guestdoor/assets/dev-server.mjs", import.meta.url));
const INSECURE_HOST = "guest.invalid"; // resolved to 127.0.0.1 by Chromium only: plain http, not localhost

let server, base, browser;
before(async () => {
  server = spawn(process.execPath, [SERVER, "0"], { stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise((resolve) => createInterface({ input: server.stdout }).once("line", resolve));
  base = line.match(/http:\/\/[\d.:]+/)[0];
  browser = await chromium.launch({ executablePath: CHROME, args: ["--no-sandbox", "--disable-gpu",
    "--disable-background-networking", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
    `--host-resolver-rules=MAP ${INSECURE_HOST} 127.0.0.1`] });
});
after(async () => { await browser?.close(); server?.kill(); });

const hostSays = (q) => fetch(`${base}/dev/state?${q}`);
const sessions = async () => (await fetch(`${base}/dev/sessions`)).json();
const state = (page) => page.evaluate(() => document.body.dataset.state);
async function until(page, name, timeout = 15000) {
  await page.waitForFunction((n) => document.body.dataset.state === n, name, { timeout })
    .catch(async () => assert.fail(`state ${await state(page)}, waited for ${name}`));
}
async function open(path, { locale = "en-US", viewport = { width: 1280, height: 800 }, init, context } = {}) {
  const ctx = context || await browser.newContext({ locale, viewport });
  const page = await ctx.newPage();
  if (init) await page.addInitScript(init);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // The dev server sends the strict policy a host should: any violation is a page error.
  page.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) errors.push(m.text()); });
  page.errors = errors;
  await page.goto(path.startsWith("http") ? path : base + path);
  return page;
}
async function ready(page) {
  await until(page, "preview");
  await page.waitForFunction(() => !document.getElementById("join").disabled);
}

test("before joining: preview, devices, level meter, the name remembered, both languages", async () => {
  const page = await open("/join/abc");
  await ready(page);
  assert.equal(await page.evaluate(() => document.getElementById("preview").srcObject.getTracks().length), 2);
  assert.ok((await page.locator("#cam option").count()) >= 2, "a camera and the no-camera choice");
  assert.ok((await page.locator("#mic option").count()) >= 1);
  await page.waitForFunction(() => document.querySelector(".meter .fill").style.transform !== "scaleX(0)",
    null, { timeout: 5000 });
  assert.equal(await page.textContent("#join"), "Join");
  await page.click("#lang");
  assert.equal(await page.textContent("#join"), "加入");
  assert.equal(await page.getAttribute("html", "lang"), "zh-CN");
  await page.fill("#name", "x".repeat(33));
  await page.click("#join");
  assert.equal(await state(page), "preview", "a name over 32 characters does not join");
  assert.equal(await page.getAttribute("#name", "aria-invalid"), "true");
  await page.fill("#name", "张三");
  await page.reload();
  await ready(page);
  assert.equal(await page.textContent("#join"), "加入", "the language choice is remembered");
  assert.deepEqual(page.errors, []);
  assert.equal(await page.inputValue("#name"), "张三", "the name is remembered");
  await page.context().close();

  const zh = await open("/join/abc", { locale: "zh-CN" });
  await ready(zh);
  assert.equal(await zh.textContent("#join"), "加入", "a Chinese browser gets Chinese");
  assert.deepEqual(zh.errors, []);
  await zh.context().close();
});

test("an invite the host refuses shows its own message and no way forward", async () => {
  for (const code of ["invite_unknown", "invite_expired", "invite_revoked"]) {
    const page = await open(`/join/${code}`);
    await until(page, `error:${code}`);
    assert.ok(await page.isHidden("#retry"), code);
    assert.ok(await page.isHidden("#prejoin"), code);
    assert.equal(await page.evaluate(() => document.activeElement.id), "status-title", "the message takes the focus");
    await page.context().close();
  }
});

test("each refused offer shows its own message; the ones worth retrying offer it", async () => {
  const titles = new Set();
  for (const [token, name] of [["slot_busy", "error:slot_busy"], ["host_not_live", "error:host_not_live"],
    ["bad_offer", "error:bad_offer"], ["too_large", "error:too_large"], ["not_sdp", "error:not_sdp"],
    ["too_many", "error:too_many"], ["badanswer", "error:bad_answer"]]) {
    const page = await open(`/join/${token}`);
    await ready(page);
    await page.click("#join");
    await until(page, name);
    titles.add(await page.textContent("#status-title"));
    assert.equal(await page.isVisible("#retry"), name !== "error:bad_offer", name);
    if (name === "error:slot_busy") {
      await page.click("#retry");
      await ready(page);
    }
    await page.context().close();
  }
  assert.equal(titles.size, 7);
});

test("an answer that never connects reads as a blocked network within about 10 s, and frees the slot", async () => {
  const page = await open("/join/deadend");
  await ready(page);
  const t0 = Date.now();
  await page.click("#join");
  await until(page, "connecting");
  const session = await page.evaluate(() => window.marqueeGuest.session);
  assert.match(session, /\/join\/deadend\/whip\/[\w-]+$/);
  await until(page, "error:network", 16000);
  assert.ok(Date.now() - t0 >= 9000, "not before the 10 s allowed to connect");
  assert.match(await page.textContent("#status-detail"), /UDP/);
  assert.equal(await page.evaluate(() => window.marqueeGuest.pc), null);
  assert.ok((await sessions()).left.includes(session.split("/").pop()));
  await page.click("#retry");
  await ready(page);
  await page.context().close();
});

test("joined for real: green room, on air, muted by the host, shortcuts, leave, join again", async () => {
  await hostSays("state=waiting&muted=0");
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await open("/dev/host", { context });
  const page = await open("/join/echo-a", { context });
  await ready(page);
  await page.fill("#name", "Ada");
  await page.click("#join");
  await until(page, "waiting");
  assert.equal(await page.evaluate(() => window.marqueeGuest.pc.iceConnectionState), "connected");
  await page.waitForFunction(() => document.getElementById("remote").videoWidth > 0, null, { timeout: 10000 });
  assert.equal(await page.evaluate(() => document.getElementById("remote").paused), false, "the return feed plays");
  assert.ok(await page.isHidden("#onair"));
  await hostSays("state=on_air&muted=0");
  await until(page, "on_air");
  assert.ok(await page.isVisible("#onair"));
  await hostSays("state=on_air&muted=1");
  await until(page, "muted_by_host");
  await hostSays("state=on_air&muted=0");
  await until(page, "on_air");

  const sent = (kind) => page.evaluate((k) => window.marqueeGuest.pc.getSenders().find((s) => s.track?.kind === k).track.enabled, kind);
  await page.keyboard.press("m");
  assert.equal(await sent("audio"), false);
  assert.equal(await page.getAttribute("#mute", "aria-pressed"), "true");
  await page.keyboard.press("v");
  assert.equal(await sent("video"), false);
  await page.keyboard.press("m");
  await page.keyboard.press("v");
  assert.equal(await sent("audio"), true);
  assert.equal(await sent("video"), true);

  // The pickers move into the controls: a new choice reaches the host without joining anew.
  await page.click("#devmenu summary");
  const camera = await page.inputValue("#cam");
  await page.selectOption("#cam", "none");
  await page.waitForFunction(() => !window.marqueeGuest.pc.getSenders().some((s) => s.track?.kind === "video"));
  assert.ok(await page.isDisabled("#camera"), "no camera to turn off");
  await page.selectOption("#cam", camera);
  await page.waitForFunction(() => window.marqueeGuest.pc.getSenders().some((s) => s.track?.kind === "video" && s.track.readyState === "live"));
  assert.equal(await state(page), "on_air");

  const session = await page.evaluate(() => window.marqueeGuest.session);
  await page.keyboard.press("l");
  await until(page, "left");
  await page.waitForFunction(() => !document.getElementById("preview").srcObject, null, { timeout: 2000 });
  assert.ok((await sessions()).left.includes(session.split("/").pop()), "leaving frees the slot");
  await page.click("#retry");
  await ready(page);
  await page.click("#join");
  await until(page, "on_air");
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("the host's declined, removed and ended end the session and stop the camera", async () => {
  const context = await browser.newContext();
  await open("/dev/host", { context });
  for (const end of ["declined", "removed", "ended"]) {
    await hostSays("state=waiting&muted=0");
    const page = await open("/join/echo-b", { context });
    await ready(page);
    await page.click("#join");
    await until(page, "waiting");
    await hostSays(`state=${end}`);
    await until(page, end);
    assert.equal(await page.evaluate(() => window.marqueeGuest.pc), null);
    assert.equal(await page.evaluate(() => document.getElementById("preview").srcObject), null);
    assert.ok(await page.isHidden("#retry"));
    await page.close();
  }
  await context.close();
});

test("a connection that worked and failed is joined anew and comes back on air", async () => {
  await hostSays("state=on_air&muted=0");
  const context = await browser.newContext();
  const host = await open("/dev/host", { context });
  const page = await open("/join/echo-c", { context });
  await ready(page);
  await page.click("#join");
  await until(page, "on_air");
  await host.evaluate(() => window.pcs.forEach((pc) => pc.close()));
  await until(page, "reconnecting", 15000);
  assert.ok(await page.isHidden("#prejoin"), "the show stays on screen while reconnecting");
  await until(page, "on_air", 45000);
  await context.close();
});

test("the phone layout keeps the show and the controls on screen", async () => {
  await hostSays("state=on_air&muted=0");
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await open("/dev/host", { context });
  const page = await open("/join/echo-d", { context });
  await ready(page);
  assert.ok((await page.locator("#join").boundingBox()).y + 40 < 844, "Join is reachable without scrolling");
  await page.tap("#join");
  await until(page, "on_air");
  for (const id of ["#remote", "#mute", "#camera", "#leave"]) {
    const box = await page.locator(id).boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 390 && box.y + box.height <= 844, id);
  }
  await context.close();
});

test("camera or microphone refused, no camera, and plain http each get their own screen", async () => {
  const refused = await open("/join/abc", { init: () => {
    navigator.mediaDevices.getUserMedia = async () => { throw new DOMException("refused", "NotAllowedError"); };
  } });
  await until(refused, "error:permission");
  assert.match(await refused.textContent("#status-detail"), /Allow/);
  assert.ok(await refused.isVisible("#retry"));
  await refused.context().close();

  const noCamera = await open("/join/abc", { init: () => {
    const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = async (c) => {
      if (c.video) throw new DOMException("no camera", "NotFoundError");
      return real(c);
    };
  } });
  await ready(noCamera);
  assert.ok(await noCamera.isVisible("#audio-only"), "joins with audio only");
  await noCamera.context().close();

  const insecure = await open(`http://${INSECURE_HOST}:${new URL(base).port}/join/abc`);
  await until(insecure, "error:insecure");
  assert.match(await insecure.textContent("#status-title"), /https/);
  await insecure.context().close();
});
