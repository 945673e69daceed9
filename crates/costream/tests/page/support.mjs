// What the guest-page tests against a real host share: the binary, the processes they start
// (and their output, printed when a test fails), this machine's outward address, the host's
// invite, and reading the host's recording back (pictures as coarse cells, tones by Goertzel).
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, existsSync, rmSync } from "node:fs";
import { tmpdir, networkInterfaces } from "node:os";
import { join } from "node:path";
import { createSocket } from "node:dgram";
import { createInterface } from "node:readline";

export const BIN = process.env.MARQUEE_BIN || new URL("../../../../target/debug/marquee", import.meta.url).pathname;
export const RATE = 48000;

/** Fails loudly, with the install command, when a program or the binary is missing. */
export function need(programs) {
  if (!existsSync(BIN)) throw new Error(`no marquee binary at ${BIN}: set MARQUEE_BIN (cargo build -p marquee-cli)`);
  for (const [p, pkg] of programs) {
    try { execFileSync("sh", ["-c", `command -v ${p}`], { stdio: "ignore" }); } catch {
      throw new Error(`${p} missing; install it with: apt-get install -y ${pkg}`);
    }
  }
}

/** A test file's scratch directory and the processes and browsers it started: `cleanup()`
 *  (for `after`) stops them, and prints their output and keeps the directory when a test
 *  failed. */
export class Scratch {
  constructor(prefix) {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    this.procs = [];
    this.browsers = [];
    this.failed = false;
  }

  /** Records `proc`'s output lines (`out`, `err`) and its end (`exited`). */
  track(name, proc) {
    const p = { name, proc, out: [], err: [] };
    this.procs.push(p);
    if (proc.stdout) createInterface({ input: proc.stdout }).on("line", (l) => p.out.push(l));
    if (proc.stderr) createInterface({ input: proc.stderr }).on("line", (l) => p.err.push(l));
    p.exited = new Promise((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })));
    return p;
  }

  /** A home of its own for a `marquee` process: config, data, videos and control socket. */
  home(name) {
    const home = join(this.dir, name);
    mkdirSync(home, { recursive: true });
    const env = { ...process.env, NO_COLOR: "1", HOME: home, XDG_CONFIG_HOME: join(home, ".config"),
      XDG_DATA_HOME: join(home, ".local/share"), XDG_CACHE_HOME: join(home, ".cache"),
      XDG_STATE_HOME: join(home, ".local/state"), XDG_VIDEOS_DIR: join(home, "Videos"),
      XDG_RUNTIME_DIR: join(home, "run"), MARQUEE_CONTROL: join(home, "live.sock") };
    mkdirSync(env.XDG_RUNTIME_DIR, { recursive: true, mode: 0o700 });
    return { home, env };
  }

  async cleanup() {
    for (const b of this.browsers) await b.close().catch(() => {});
    for (const p of this.procs) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill("SIGKILL");
    if (this.failed) {
      for (const p of this.procs) console.error(`---- ${p.name} output ----\n${[...p.out, ...p.err].join("\n")}`);
      console.error(`kept for inspection: ${this.dir}`);
    } else {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/** This machine's address towards the outside (nothing is sent): the link a guest gets never
 *  names loopback, and browsers offer no ICE candidate there anyway. */
export async function outwardAddress() {
  const viaRoute = await new Promise((resolve) => {
    const s = createSocket("udp4");
    s.on("error", () => { s.close(); resolve(null); });
    s.connect(9, "192.0.2.1", () => { const a = s.address().address; s.close(); resolve(a); });
  });
  const any = Object.values(networkInterfaces()).flat().find((i) => i.family === "IPv4" && !i.internal)?.address;
  const ip = viaRoute && viaRoute !== "0.0.0.0" && !viaRoute.startsWith("127.") ? viaRoute : any;
  assert.ok(ip, "the co-stream browser tests need a non-loopback IPv4 address (e.g. eth0 up with an address)");
  return ip;
}

/** The first guest's link, once the host (tracked `h`) prints `guest 1: LINK`. */
export function inviteOf(h) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no invite printed within 60 s")), 60000);
    createInterface({ input: h.proc.stdout }).on("line", (l) => {
      if (l.startsWith("guest 1: ")) { clearTimeout(timer); resolve(l.slice("guest 1: ".length).trim()); }
    });
    h.exited.then((s) => {
      clearTimeout(timer);
      reject(new Error(`${h.name} exited before printing an invite: ${JSON.stringify(s)}: ${h.err.join("\n")}`));
    });
  });
}

/** `marquee live` with one guest slot showing the test card and a `hostHz` tone, in a home of
 *  its own; resolves with the link once printed (`startedAt`: then). */
export async function startHost(scratch, name, hostHz, extra) {
  const { env } = scratch.home(name);
  const proc = spawn(BIN, ["live", "--video", "test", "--audio", `tone:${hostHz}`, "--size", "1280x720",
    "--fps", "30", "--preset", "ultrafast", "--replay-seconds", "0", "--guests", "1", ...extra],
  { env, stdio: ["ignore", "pipe", "pipe"] });
  const h = scratch.track(name, proc);
  const link = await inviteOf(h);
  h.startedAt = Date.now();
  return { ...h, link };
}

export async function waitExit(h, ms) {
  let timer;
  const late = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${h.name} still running after ${ms / 1000} s`)), ms); });
  try { return await Promise.race([h.exited, late]); } finally { clearTimeout(timer); }
}

/** Strength of `hz` in `x` (Goertzel), as an amplitude. */
export function toneLevel(x, hz) {
  const k = 2 * Math.cos((2 * Math.PI * hz) / RATE);
  let s1 = 0, s2 = 0;
  for (let i = 0; i < x.length; i++) { const s = x[i] + k * s1 - s2; s2 = s1; s1 = s; }
  return Math.sqrt(Math.max(0, s1 * s1 + s2 * s2 - k * s1 * s2)) / x.length;
}
export const dB = (a, b) => 20 * Math.log10((a + 1e-12) / (b + 1e-12));

/** A recording's audio, mono at 48 kHz, in 1 s windows: each window's level of each of `hzs`. */
export function audioWindows(file, hzs) {
  const raw = execFileSync("ffmpeg", ["-v", "error", "-i", file, "-vn", "-ac", "1", "-ar", String(RATE), "-f", "f32le", "-"],
    { maxBuffer: 64 << 20 });
  const all = new Float32Array(raw.buffer, raw.byteOffset, raw.length >> 2);
  const out = [];
  for (let i = 0; i + RATE <= all.length; i += RATE) {
    const w = all.subarray(i, i + RATE);
    out.push(hzs.map((hz) => toneLevel(w, hz)));
  }
  return out;
}

/** Checks a recording's program audio: `who`'s `guestHz` tone ≥ 25 dB above its after-call
 *  level in every second of the call (`during(s)`, `afterCall(s)`: second s of the
 *  recording), the host's `hostHz` tone steady throughout. Returns the margin, dB. */
export function assertHeardDuringTheCallOnly(file, { who, guestHz, hostHz, during, afterCall, call }) {
  const levels = audioWindows(file, [guestHz, hostHz]);
  const table = levels.map(([g, h], i) => `${i}s:${(20 * Math.log10(g + 1e-12)).toFixed(0)}/${(20 * Math.log10(h + 1e-12)).toFixed(0)}`).join(" ");
  const guestDuring = levels.filter((_, i) => during(i)).map((l) => l[0]);
  const guestAfter = levels.filter((_, i) => afterCall(i)).map((l) => l[0]);
  assert.ok(guestDuring.length >= 5 && guestAfter.length >= 5, `call ${call}; dB guest/host: ${table}`);
  const margin = dB(Math.min(...guestDuring), Math.max(...guestAfter));
  assert.ok(margin >= 25,
    `${who}'s ${guestHz} Hz must be ≥ 25 dB above the after-call level in every second of the call (got ${margin.toFixed(1)} dB); dB guest/host per second: ${table}`);
  const hostLevels = levels.slice(0, -1).map((l) => l[1]).sort((a, b) => a - b);
  assert.ok(dB(hostLevels[0], hostLevels[hostLevels.length >> 1]) > -6, `the host's ${hostHz} Hz stays in the mix in every second: ${table}`);
  return margin;
}

/** Pictures as 16×9 RGB cells (area-averaged): a card without its fine detail. */
const CELLS = 16 * 9 * 3;
export function cellsOf(file, filter, fps) {
  const raw = execFileSync("ffmpeg", ["-v", "error", "-i", file, "-vf", `${fps ? `fps=${fps},` : ""}${filter}scale=16:9:flags=area`,
    "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], { maxBuffer: 64 << 20 });
  const out = [];
  for (let i = 0; i + CELLS <= raw.length; i += CELLS) out.push(raw.subarray(i, i + CELLS));
  return out;
}
/** Mean |ΔRGB| between two pictures' cells. */
export const distance = (a, b) => a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length;

/** The page's state (`document.body.dataset.state`) through `evaluate`, which Playwright and
 *  Puppeteer pages both have. */
export const state = (page) => page.evaluate(() => document.body.dataset.state);

/** Waits for the page's state `name` (polled: Playwright and Puppeteer differ in
 *  `waitForFunction`'s arguments); the failure names the state it was in. */
export async function until(page, name, timeout = 20000) {
  const deadline = Date.now() + timeout;
  // A page between two documents has no state to read yet.
  const read = () => state(page).catch((e) => `unreadable (${e.message})`);
  let now = await read();
  while (now !== name) {
    if (Date.now() > deadline) assert.fail(`state ${now}, waited for ${name}`);
    await new Promise((r) => setTimeout(r, 50));
    now = await read();
  }
}
