// The desktop app against OBS Studio doing the same job in the same run: a looping media file
// (720p30 testsrc2 + a tone, H.264/AAC) encoded with x264 veryfast CBR 2500 kbps, 2 s
// keyframes, AAC 128 kbps, sent over RTMP to one local nginx-rtmp. For each program, idle (open,
// showing the source, not streaming) and live: CPU (% of one core: utime + stime of the program
// and its child processes from /proc over WINDOW_S seconds after SETTLE_S seconds) and PSS
// (smaps_rollup, summed over the same processes; USS and RSS beside it). Both streams are
// checked at the server: ffprobe of the live stream before measuring, nginx's recording of it
// afterwards (frames, seconds, bitrate). OBS runs first (idle, then a second launch with
// --startstreaming), then the app (idle in the studio, then Go Live clicked through WebDriver).
//
// Run from the repository root, after building what ships: the app in the release profile (the
// CLI only stores the stream key in the test keychain, any profile will do):
//
//   npm --prefix ui install && npm --prefix ui run build && cargo build --release -p marquee-app
//   npm --prefix tests/app install && node tests/bench/app_vs_obs.mjs
//
// Needs obs-studio 29 (`apt-get install -y obs-studio`), xvfb-run (`apt-get install -y xvfb
// xauth`), nginx with the RTMP module, ffmpeg/ffprobe, dbus + gnome-keyring and
// WebKitWebDriver (webkit2gtk-driver); a missing one fails with the command that installs it.
// Each program gets its own Xvfb (`xvfb-run`, 1920x1080x24) and its own fresh $HOME, configured
// only by files: OBS by global.ini, a profile (basic.ini, streamEncoder.json, service.json) and
// a scene collection with one looping `ffmpeg_source`; Marquee by config.toml (first run done,
// video and audio `file:` the media file, the destination a keychain reference) and
// MARQUEE_EXTRA_SOURCES (the file on the scene bar). OBS's x264 gets Marquee's encoder settings
// (tune zerolatency besides veryfast and CBR), so both encoders do the same work.
//
// Environment: MARQUEE_APP (default $CARGO_TARGET_DIR or target, then release/marquee-app; a
// dev build, debug/marquee-app, is reported as such), MARQUEE_BIN (the CLI: release/marquee,
// else debug/marquee), SETTLE_S (20), WINDOW_S (10), OUT (JSON; default $CARGO_TARGET_DIR or
// target, then bench/app_vs_obs.json), ONLY=marquee (skips OBS: quicker iterations, no ratios),
// SMAPS_DIR (keeps each measured process's /proc/PID/smaps at the end of each window there).
// Numbers are reported, not asserted.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createConnection, createServer } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const targetDir = process.env.CARGO_TARGET_DIR ?? join(repo, 'target');
const app = resolve(process.env.MARQUEE_APP ?? join(targetDir, 'release/marquee-app'));
const cli = resolve(process.env.MARQUEE_BIN ?? ['release/marquee', 'debug/marquee'].map((p) => join(targetDir, p)).find((p) => existsSync(p)) ?? join(targetDir, 'debug/marquee'));
const ONLY = process.env.ONLY ?? '';
const SMAPS_DIR = process.env.SMAPS_DIR ? resolve(process.env.SMAPS_DIR) : null;
const out = resolve(process.env.OUT ?? join(targetDir, 'bench/app_vs_obs.json'));
const SETTLE_S = Number(process.env.SETTLE_S ?? 20);
const WINDOW_S = Number(process.env.WINDOW_S ?? 10);
const nativeDriver = '/usr/bin/WebKitWebDriver';
const XVFB_SCREEN = '-screen 0 1920x1080x24';
const HZ = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

// What both programs are asked to do.
const JOB = { width: 1280, height: 720, fps: 30, kbps: 2500, audioKbps: 128, keyframeS: 2, preset: 'veryfast', seconds: 20 };

const appModules = createRequire(join(repo, 'tests/app/package.json'));

function need(ok, what, fix) {
  if (!ok) throw new Error(`${what} is missing: ${fix}`);
}

function which(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, fn, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

function canConnect(port) {
  return new Promise((res) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => (s.destroy(), res(true)));
    s.on('error', () => res(false));
  });
}

/** Starts `cmd` in its own process group (so it and everything under it can be ended by id). */
function startGroup(cmd, args, opts) {
  const p = spawn(cmd, args, { ...opts, detached: true });
  p.log = '';
  // 'close' comes after the process exited and its output was read to the end.
  p.closed = new Promise((r) => p.once('close', r));
  p.stdout?.on('data', (d) => (p.log += d));
  p.stderr?.on('data', (d) => (p.log += d));
  return p;
}

/** Ends the process group started by `startGroup`: TERM, then KILL after `ms`. */
async function stopGroup(p, ms = 10_000) {
  if (!p || p.exitCode != null || p.signalCode != null) return;
  const gone = new Promise((r) => p.once('exit', r));
  try {
    process.kill(-p.pid, 'SIGTERM');
  } catch {
    return;
  }
  const t = setTimeout(() => {
    try {
      process.kill(-p.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }, ms);
  await gone;
  clearTimeout(t);
}

// ---------------------------------------------------------------------------------------------
// /proc: the processes under a root, their CPU ticks (also per thread), their PSS.

/** Every process on the machine: pid → { ppid, name, ticks }. */
function processes() {
  const all = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      all.set(Number(d), {
        ppid: Number(rest[1]),
        name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
        ticks: Number(rest[11]) + Number(rest[12]),
      });
    } catch {
      /* gone */
    }
  }
  return all;
}

/** Pids of `root` and all its descendants for which `keep(name)` holds. */
function tree(root, keep) {
  const all = processes();
  const kids = new Map();
  for (const [pid, p] of all) kids.set(p.ppid, [...(kids.get(p.ppid) ?? []), pid]);
  const outPids = [];
  const walk = (pid) => {
    const p = all.get(pid);
    if (p && keep(p.name)) outPids.push(pid);
    for (const k of kids.get(pid) ?? []) walk(k);
  };
  walk(root);
  return outPids;
}

/** CPU ticks per process and per thread name (digits folded: `llvmpipe-3` → `llvmpipe-N`). */
function ticks(pids) {
  const procs = {};
  const threads = {};
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const proc = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      procs[`${proc}#${pid}`] = Number(rest[11]) + Number(rest[12]);
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        const t = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const tr = t.slice(t.lastIndexOf(')') + 2).split(' ');
        const name = t.slice(t.indexOf('(') + 1, t.lastIndexOf(')')).replace(/\d+/g, 'N');
        threads[`${proc}: ${name}#${tid}`] = Number(tr[11]) + Number(tr[12]);
      }
    } catch {
      /* gone */
    }
  }
  return { procs, threads };
}

/** Busy and total jiffies of the whole machine (all cores), from /proc/stat. */
function machineTicks() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + f[4];
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/**
 * PSS (per process and summed), and beside it RSS and USS (private pages only). A shared
 * library's pages count in PSS divided by the number of processes mapping them, so another
 * program using the same libraries at the same time (another WebKit app, Mesa) lowers PSS.
 */
function memory(pids) {
  const per = {};
  const sum = { pss: 0, rss: 0, uss: 0 };
  for (const pid of pids) {
    try {
      const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
      const name = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      per[`${name}#${pid}`] = kb('Pss');
      sum.pss += kb('Pss');
      sum.rss += kb('Rss');
      sum.uss += kb('Private_Clean') + kb('Private_Dirty');
    } catch {
      /* gone */
    }
  }
  return { ...sum, processes: per };
}

/** Processes outside this run that share the programs' big libraries (their PSS is split with them). */
function foreignSharers(ours) {
  const mine = new Set(ours);
  return [...processes()]
    .filter(([pid, p]) => !mine.has(pid) && /^(WebKitWebProces|WebKitNetworkPr|marquee-app|obs|chromium)$/.test(p.name))
    .map(([pid, p]) => `${p.name}#${pid}`);
}

/** Where a process's PSS is: mappings grouped by file (or heap / anonymous by size), largest first. */
function pssBreakdown(pids, top = 10) {
  const res = {};
  for (const pid of pids) {
    let smaps;
    let name;
    try {
      smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8');
      name = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    const groups = new Map();
    let group = null;
    for (const line of smaps.split('\n')) {
      const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
      if (head) {
        const size = (parseInt(head[2], 16) - parseInt(head[1], 16)) / 1048576;
        const path = head[3].trim();
        group = path
          ? path.startsWith('[') ? path : path.split('/').pop().replace(/\.so[.\d]*$/, '.so')
          : `[anon ${size >= 60 ? '≥60' : size >= 8 ? '8-60' : size >= 1 ? '1-8' : '<1'} MiB]`;
        continue;
      }
      const m = /^Pss:\s+(\d+) kB/.exec(line);
      if (m && group) groups.set(group, (groups.get(group) ?? 0) + Number(m[1]) * 1024);
    }
    res[`${name}#${pid}`] = Object.fromEntries(
      [...groups].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => [k, Math.round(v / 1048576 * 10) / 10]),
    );
  }
  return res;
}

/** Copies each process's smaps to SMAPS_DIR/LABEL-NAME-PID.smaps, for a look at every mapping. */
function keepSmaps(pids, label) {
  mkdirSync(SMAPS_DIR, { recursive: true });
  for (const pid of pids) {
    try {
      const name = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      writeFileSync(join(SMAPS_DIR, `${label}-${name}-${pid}.smaps`), readFileSync(`/proc/${pid}/smaps`));
    } catch {
      /* gone */
    }
  }
}

const pct = (dTicks, s) => Math.round((dTicks / HZ / s) * 1000) / 10;

/** The documented settle period before each measurement window. */
async function settle(label) {
  console.error(`${label}: settling ${SETTLE_S} s, then measuring ${WINDOW_S} s`);
  await sleep(SETTLE_S * 1000);
}

/**
 * Measures the processes `pids()` picks over WINDOW_S: CPU % of one core (per process and per
 * thread name), PSS at the end of the window (with a breakdown), the Xvfb beside them, and what
 * the rest of the machine did meanwhile (the noise).
 */
async function measure(pids, xvfbPids, label) {
  const load0 = readFileSync('/proc/loadavg', 'utf8').trim();
  const p0 = pids();
  const a = ticks(p0);
  const x0 = ticks(xvfbPids());
  const m0 = machineTicks();
  const all0 = processes();
  const t0 = process.hrtime.bigint();
  await sleep(WINDOW_S * 1000);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const p1 = pids();
  const b = ticks(p1);
  const x1 = ticks(xvfbPids());
  const m1 = machineTicks();
  const all1 = processes();
  const load1 = readFileSync('/proc/loadavg', 'utf8').trim();
  const delta = (x, y) => Object.fromEntries(Object.entries(y).map(([k, v]) => [k, v - (x[k] ?? v)]));
  const dp = delta(a.procs, b.procs);
  const total = Object.values(dp).reduce((acc, v) => acc + v, 0);
  // Threads of one name added up (`obs: llvmpipe-N` is all of Mesa's rasteriser threads).
  const byThread = {};
  for (const [k, v] of Object.entries(delta(a.threads, b.threads))) {
    const key = k.split('#')[0];
    byThread[key] = (byThread[key] ?? 0) + v;
  }
  const threads = Object.fromEntries(
    Object.entries(byThread).filter(([, v]) => v > 0).sort((x, y) => y[1] - x[1]).map(([k, v]) => [k, pct(v, s)]),
  );
  const xvfb = Object.values(delta(x0.procs, x1.procs)).reduce((acc, v) => acc + v, 0);
  const ncpu = cpus().length;
  const machineBusy = ((m1.busy - m0.busy) / (m1.total - m0.total)) * ncpu * 100;
  const mem = memory(p1);
  if (SMAPS_DIR) keepSmaps(p1, label);
  return {
    window_s: Math.round(s * 100) / 100,
    cpu_pct: pct(total, s),
    cpu_per_process: Object.fromEntries(Object.entries(dp).map(([k, v]) => [k, pct(v, s)])),
    cpu_per_thread: threads,
    pss_bytes: mem.pss,
    pss_per_process: mem.processes,
    rss_bytes: mem.rss,
    uss_bytes: mem.uss,
    other_processes_sharing_libraries: foreignSharers([...p1, ...xvfbPids()]),
    pss_breakdown_mib: pssBreakdown(p1),
    xvfb_cpu_pct: pct(xvfb, s),
    // Everything else on the machine during the window, in % of one core (other engineers' builds).
    others_cpu_pct: Math.max(0, Math.round((machineBusy - pct(total, s) - pct(xvfb, s)) * 10) / 10),
    // The busiest processes on the whole machine during the window (ours included), % of one core.
    busiest: [...all1]
      .map(([pid, p]) => [`${p.name}#${pid}`, p.ticks - (all0.get(pid)?.ticks ?? p.ticks)])
      .filter(([, v]) => v > 0)
      .sort((x, y) => y[1] - x[1])
      .slice(0, 10)
      .map(([k, v]) => `${k} ${pct(v, s)}`),
    loadavg_before: load0,
    loadavg_after: load1,
  };
}

// ---------------------------------------------------------------------------------------------
// The shared parts: the media file, nginx-rtmp, a D-Bus session with an unlocked keyring.

function makeMedia(path) {
  const r = spawnSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${JOB.width}x${JOB.height}:rate=${JOB.fps}`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(JOB.seconds), '-ac', '2',
    '-c:v', 'libx264', '-preset', 'medium', '-b:v', '4000k', '-g', String(JOB.fps * 2), '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '128k', '-movflags', '+faststart', path,
  ]);
  if (r.status !== 0) throw new Error(`ffmpeg could not make the media file: ${r.stderr}`);
}

async function startNginx(dir, port) {
  const p = startGroup(join(repo, 'scripts/nginx-rtmp.sh'), [dir, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  await waitFor(`nginx-rtmp on ${port}`, async () => {
    if (p.exitCode != null) throw new Error(`nginx-rtmp exited: ${p.log}`);
    return canConnect(port);
  }, 10_000);
  return p;
}

/** A D-Bus session with an unlocked throw-away gnome-keyring (the OS keychain), as tests/app does. */
async function startKeychain(dir) {
  const socket = join(dir, 'bus');
  const conf = join(dir, 'session.conf');
  writeFileSync(conf, `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path=${socket}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>
`);
  const { DISPLAY: _display, ...quiet } = process.env;
  const bus = startGroup('dbus-daemon', [`--config-file=${conf}`, '--nofork', '--nopidfile', '--print-address=1'], { env: quiet, stdio: ['ignore', 'pipe', 'pipe'] });
  const address = await waitFor('the dbus-daemon address', () => (bus.log.includes('\n') ? bus.log.split('\n')[0].trim() : null), 10_000);
  const runtime = join(dir, 'run');
  mkdirSync(runtime, { recursive: true, mode: 0o700 });
  const keyring = startGroup('gnome-keyring-daemon', ['--foreground', '--unlock', '--components=secrets'], {
    env: { ...quiet, DBUS_SESSION_BUS_ADDRESS: address, HOME: dir, XDG_RUNTIME_DIR: runtime, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') },
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  keyring.stdin.end('marquee-bench-keyring-password');
  await waitFor('an unlocked default keyring', () =>
    spawnSync('dbus-send', ['--session', '--print-reply', '--reply-timeout=3000', '--dest=org.freedesktop.secrets', '/org/freedesktop/secrets', 'org.freedesktop.Secret.Service.ReadAlias', 'string:default'], {
      env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: address },
    }).stdout?.toString().includes('/collection/'), 10_000);
  return { address, stop: async () => (await stopGroup(keyring), await stopGroup(bus)) };
}

/** ffprobe of the live stream at nginx: resolves once it has H.264 at the job's size and AAC. */
async function streamAtServer(url, ms = 60_000) {
  let last = '';
  return waitFor(`the stream at ${url.replace(/[^/]+$/, '****')}`, () => {
    const r = spawnSync('ffprobe', ['-v', 'error', '-rw_timeout', '8000000', '-show_entries', 'stream=codec_name,width,height', '-of', 'csv=p=0', url], { timeout: 15_000 });
    last = `${r.stdout}${r.stderr}`.trim();
    const ok = new RegExp(`h264,${JOB.width},${JOB.height}`).test(r.stdout) && /aac/.test(r.stdout);
    return ok ? r.stdout.toString().trim().split('\n').join(' / ') : null;
  }, ms).catch((e) => {
    throw new Error(`${e.message} (last ffprobe: ${last})`);
  });
}

/** What nginx recorded of one stream key: codecs, video frames, seconds. */
function recordedAtServer(recordDir, key) {
  const files = readdirSync(recordDir).filter((f) => f.startsWith(`${key}-`) && f.endsWith('.flv'));
  const res = [];
  for (const f of files) {
    const r = spawnSync('ffprobe', ['-v', 'error', '-count_packets', '-show_entries', 'stream=codec_type,codec_name,width,height,nb_read_packets:format=duration', '-of', 'json', join(recordDir, f)]);
    const j = JSON.parse(r.stdout.toString() || '{}');
    const v = (j.streams ?? []).find((s) => s.codec_type === 'video');
    const a = (j.streams ?? []).find((s) => s.codec_type === 'audio');
    const seconds = Number(j.format?.duration ?? 0);
    res.push({
      file: f,
      bytes: statSync(join(recordDir, f)).size,
      video: v && `${v.codec_name} ${v.width}x${v.height}`,
      audio: a?.codec_name,
      seconds: Math.round(seconds * 10) / 10,
      video_frames: Number(v?.nb_read_packets ?? 0),
      fps: seconds ? Math.round((Number(v?.nb_read_packets ?? 0) / seconds) * 10) / 10 : 0,
      kbps: seconds ? Math.round((statSync(join(recordDir, f)).size * 8) / seconds / 1000) : 0,
    });
  }
  return res;
}

// ---------------------------------------------------------------------------------------------
// OBS Studio, configured by files in a fresh home.

function obsVersion() {
  const r = spawnSync('obs', ['--version'], { timeout: 20_000 });
  return `${r.stdout}`.trim() || `${r.stderr}`.trim().split('\n').pop();
}

function writeObsConfig(home, media, server, key) {
  const base = join(home, '.config', 'obs-studio');
  const profile = join(base, 'basic', 'profiles', 'Bench');
  const scenes = join(base, 'basic', 'scenes');
  mkdirSync(profile, { recursive: true });
  mkdirSync(scenes, { recursive: true });
  // FirstRun + LastVersion: no auto-configuration wizard; no confirmations that would wait for a click.
  writeFileSync(join(base, 'global.ini'), `[General]
FirstRun=true
LastVersion=${(29 << 24) | (0 << 16) | 2}
Pre19Defaults=false
Pre21Defaults=false
Pre23Defaults=false
Pre24.1Defaults=false
ConfirmOnExit=false
WarnBeforeStartingStream=false
WarnBeforeStoppingStream=false
WarnBeforeStoppingRecord=false
EnableAutoUpdates=false
ShowLogViewerOnStartup=false

[Basic]
Profile=Bench
ProfileDir=Bench
SceneCollection=Bench
SceneCollectionFile=Bench
ConfigOnNewProfile=false
`);
  writeFileSync(join(profile, 'basic.ini'), `[General]
Name=Bench

[Video]
BaseCX=${JOB.width}
BaseCY=${JOB.height}
OutputCX=${JOB.width}
OutputCY=${JOB.height}
FPSType=0
FPSCommon=${JOB.fps}
ScaleType=bicubic
ColorFormat=NV12
ColorSpace=709
ColorRange=Partial

[Audio]
SampleRate=48000
ChannelSetup=Stereo

[Output]
Mode=Advanced
Reconnect=true
DelayEnable=false

[AdvOut]
Encoder=obs_x264
TrackIndex=1
ApplyServiceSettings=false
Rescale=false
RecType=Standard
RecEncoder=none
RecRB=false
Track1Bitrate=${JOB.audioKbps}
`);
  // The same x264 settings as Marquee's encoder (crates/studio/src/encode.rs): veryfast,
  // zerolatency, CBR, a keyframe every 2 s.
  writeFileSync(join(profile, 'streamEncoder.json'), JSON.stringify({
    rate_control: 'CBR', bitrate: JOB.kbps, keyint_sec: JOB.keyframeS, preset: JOB.preset, profile: 'high', tune: 'zerolatency', x264opts: '',
  }));
  writeFileSync(join(profile, 'service.json'), JSON.stringify({ type: 'rtmp_custom', settings: { server, key, use_auth: false, bwtest: false } }));
  const item = {
    name: 'Media', id: 1, visible: true, locked: false, rot: 0, align: 5,
    pos: { x: 0, y: 0 }, scale: { x: 1, y: 1 }, bounds: { x: 0, y: 0 }, bounds_type: 0, bounds_align: 0,
    crop_left: 0, crop_top: 0, crop_right: 0, crop_bottom: 0,
  };
  writeFileSync(join(scenes, 'Bench.json'), JSON.stringify({
    name: 'Bench',
    current_scene: 'Scene',
    current_program_scene: 'Scene',
    scene_order: [{ name: 'Scene' }],
    sources: [
      {
        id: 'ffmpeg_source', versioned_id: 'ffmpeg_source', name: 'Media',
        settings: { is_local_file: true, local_file: media, looping: true, restart_on_activate: false, close_when_inactive: false, hw_decode: false },
      },
      { id: 'scene', versioned_id: 'scene', name: 'Scene', settings: { id_counter: 1, custom_size: false, items: [item] } },
    ],
    groups: [],
    transitions: [],
    current_transition: 'Fade',
    transition_duration: 300,
    quick_transitions: [],
    modules: {},
  }, null, 1));
}

/** One OBS launch under its own Xvfb with Mesa's software GL; `live` adds --startstreaming. */
async function runObs({ live, media, server, key, bus, dir }) {
  const home = mkdtempSync(join(dir, `obs-${live ? 'live' : 'idle'}-`));
  writeObsConfig(home, media, server, key);
  const runtime = join(home, 'run');
  mkdirSync(runtime, { mode: 0o700 });
  const args = ['-a', '-s', XVFB_SCREEN, 'obs', '--profile', 'Bench', '--collection', 'Bench', '--scene', 'Scene', '--multi', '--disable-updater', '--disable-missing-files-check'];
  if (live) args.push('--startstreaming');
  const env = {
    ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_RUNTIME_DIR: runtime,
    DBUS_SESSION_BUS_ADDRESS: bus, LIBGL_ALWAYS_SOFTWARE: '1', LANG: 'en_US.UTF-8', QT_QPA_PLATFORM: 'xcb',
  };
  const x = startGroup('xvfb-run', args, { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: home });
  try {
    const obsPid = await waitFor('the obs process', () => tree(x.pid, (n) => n === 'obs')[0], 20_000);
    await waitFor('OBS to finish starting ("Startup complete" in its log)', () => {
      if (x.exitCode != null) throw new Error(`OBS exited early:\n${x.log.slice(-3000)}`);
      return x.log.includes('==== Startup complete');
    }, 60_000);
    if (/Failed to initialize video|Failed to create scene/.test(x.log)) throw new Error(`OBS could not start its video:\n${x.log.slice(-3000)}`);
    let probe = null;
    if (live) {
      await waitFor('OBS to start streaming', () => {
        if (x.exitCode != null) throw new Error(`OBS exited:\n${x.log.slice(-3000)}`);
        return x.log.includes('==== Streaming Start');
      }, 30_000).catch((e) => {
        throw new Error(`${e.message}; OBS's log ends:\n${x.log.slice(-3000)}`);
      });
      probe = await streamAtServer(`${server}/${key}`);
    }
    await settle(`OBS ${live ? 'live' : 'idle'}`);
    const r = await measure(() => tree(obsPid, () => true), () => tree(x.pid, (n) => n === 'Xvfb'), `obs-${live ? 'live' : 'idle'}`);
    r.stream_probe = probe;
    // SIGINT is OBS's own Ctrl-C: a clean close (ConfirmOnExit is off).
    try {
      process.kill(obsPid, 'SIGINT');
    } catch {
      /* already gone: its log says why */
    }
    // xvfb-run ends when OBS has, and its output is then read to the end.
    await Promise.race([x.closed, sleep(30_000)]);
    r.log_tail = x.log.split('\n').filter((l) => /error|warning|failed/i.test(l)).slice(-20);
    // OBS's own account of the session (start to close): frames it could not render or encode in time.
    const count = (re) => (re.exec(x.log) ?? []).slice(1).map(Number);
    const [drawn, attempted] = count(/Total drawn frames: (\d+)(?: \((\d+) attempted\))?/);
    r.obs_frames = {
      output: count(/Total frames output: (\d+)/)[0] ?? null,
      drawn: drawn ?? null,
      draw_attempted: attempted || drawn || null,
      lagged_render: count(/lagged frames due to rendering lag\/stalls: (\d+)/)[0] ?? (drawn != null ? 0 : null),
      skipped_encode: count(/skipped frames due to encoding lag: (\d+)/)[0] ?? (drawn != null ? 0 : null),
    };
    return r;
  } finally {
    await stopGroup(x);
    writeFileSync(join(dir, `obs-${live ? 'live' : 'idle'}.log`), x.log);
  }
}

// ---------------------------------------------------------------------------------------------
// Marquee, the real app under tauri-driver + WebKitWebDriver, configured by config.toml.

async function runMarquee({ media, server, keyName, key, bus, dir }) {
  const home = mkdtempSync(join(dir, 'marquee-'));
  const env = {
    ...process.env,
    // The throwaway keyring's bus, whatever session the shell has.
    DBUS_SESSION_BUS_ADDRESS: bus,
    XDG_DATA_HOME: join(home, 'data'),
    XDG_CONFIG_HOME: join(home, 'config'),
    XDG_CACHE_HOME: join(home, 'cache'),
    HOME: home,
    XDG_VIDEOS_DIR: join(home, 'Videos'),
    MARQUEE_ROOM_PORT: '0',
    // The media file in the scene bar (the studio shows it before going live).
    MARQUEE_EXTRA_SOURCES: `file:${media}`,
    LANG: 'en_US.UTF-8',
  };
  delete env.MARQUEE_CONFIG;
  // The key in the keychain, the rest in the config file (first run done, no local recording).
  const set = spawnSync(cli, ['key', 'set', keyName], { env, input: key });
  if (set.status !== 0) throw new Error(`marquee key set failed: ${set.stderr}`);
  mkdirSync(join(home, 'config', 'marquee'), { recursive: true });
  writeFileSync(join(home, 'config', 'marquee', 'config.toml'), `[profiles.default]
video = "file:${media}"
audio = "file:${media}"
to = ["${server}/key:${keyName}"]
size = "${JOB.width}x${JOB.height}"
fps = ${JOB.fps}
bitrate = ${JOB.kbps}
encoder = "x264"

[app]
first_run_done = true
record = false
`);
  const port = await freePort();
  const nativePort = await freePort();
  const driverJs = join(dirname(appModules.resolve('@crabnebula/tauri-driver/package.json')), 'cli.js');
  const x = startGroup('xvfb-run', ['-a', '-s', XVFB_SCREEN, process.execPath, driverJs, '--port', String(port), '--native-port', String(nativePort), '--native-driver', nativeDriver], {
    env, stdio: ['ignore', 'pipe', 'pipe'], cwd: home,
  });
  const { remote } = appModules('webdriverio');
  let browser;
  try {
    await waitFor(`tauri-driver on ${port}`, async () => {
      if (x.exitCode != null) throw new Error(`tauri-driver exited:\n${x.log}`);
      return canConnect(port);
    }, 20_000);
    browser = await remote({
      hostname: '127.0.0.1', port, logLevel: 'warn', connectionRetryCount: 0,
      capabilities: { browserName: 'wry', 'tauri:options': { application: app }, 'wdio:enforceWebDriverClassic': true, pageLoadStrategy: 'none' },
    });
    const appPids = () => tree(x.pid, (n) => /marquee|WebKit/.test(n) && n !== 'WebKitWebDriver');
    const xvfbPids = () => tree(x.pid, (n) => n === 'Xvfb');
    const invoke = (cmd) => browser.executeAsync((c, done) => window.__TAURI_INTERNALS__.invoke(c).then(done, (e) => done({ error: String(e?.message ?? e) })), cmd);
    const previewFps = async () => (await invoke('preview_info')).fps ?? 0;

    // Idle: the studio (no wizard: first run done by the config file), the media file on the scene bar, its preview moving.
    await browser.waitUntil(async () => (await browser.getTitle()) === 'Marquee', { timeout: 60_000, timeoutMsg: 'the app page never loaded' });
    await (await browser.$('[data-testid="go-live"]')).waitForDisplayed({ timeout: 60_000 });
    const fileScene = await waitFor('the media file selected on the scene bar', () =>
      browser.execute((name) => [...document.querySelectorAll('[data-testid^="scene-"]')].find((e) => e.textContent.includes(name) && e.getAttribute('aria-pressed') === 'true')?.textContent.trim(), media.split('/').pop()), 30_000);
    await waitFor('the idle preview at ≥ 10 pictures/s', async () => (await previewFps()) >= 10, 30_000);
    await settle('Marquee idle');
    const idle = await measure(appPids, xvfbPids, 'marquee-idle');
    idle.scene = fileScene;
    idle.preview_fps = await previewFps();

    // Live: Go Live, the destination turns live, the stream is at the server.
    await (await browser.$('[data-testid="go-live"]')).click();
    await (await browser.$('[data-testid="end-live"]')).waitForDisplayed({ timeout: 30_000 });
    await browser.waitUntil(async () => (await (await browser.$('[data-testid="dest-state"]')).getAttribute('data-state')) === 'live', { timeout: 30_000, timeoutMsg: 'the destination never turned live' });
    const probe = await streamAtServer(`${server}/${key}`);
    await settle('Marquee live');
    const before = await invoke('stats');
    const liveR = await measure(appPids, xvfbPids, 'marquee-live');
    const after = await invoke('stats');
    liveR.stream_probe = probe;
    // The engine's own account of the window: output fps and frames dropped (capture queue, render, encoder).
    liveR.engine = {
      fps: after.fps ?? NaN,
      dropped_in_window: Object.fromEntries(Object.entries(after.dropped ?? {}).map(([k, v]) => [k, v - (before.dropped?.[k] ?? 0)])),
      dropped_since_live: after.dropped,
    };
    liveR.preview_fps = await previewFps();
    const errorShown = await (await browser.$('[data-testid="error"]')).isExisting();
    if (errorShown) liveR.error = await (await browser.$('[data-testid="error"]')).getText();

    // End cleanly (End, then confirm), so nginx closes the recording.
    await (await browser.$('[data-testid="end-live"]')).click();
    await (await browser.$('[data-testid="confirm-end"]')).click();
    await (await browser.$('[data-testid="go-live"]')).waitForDisplayed({ timeout: 30_000 });
    return { idle, live: liveR };
  } finally {
    await browser?.deleteSession().catch(() => null);
    await stopGroup(x);
    writeFileSync(join(dir, 'marquee-driver.log'), x.log);
  }
}

// ---------------------------------------------------------------------------------------------

function gitCommit() {
  const r = spawnSync('git', ['-C', repo, 'rev-parse', '--short', 'HEAD']);
  return r.status === 0 ? r.stdout.toString().trim() : null;
}

/** The run's temp dir (media file, homes, nginx, logs): removed after a good run, kept after a failure. */
let workDir = null;

async function main() {
  if (ONLY !== 'marquee') need(which('obs'), 'OBS Studio (obs)', 'apt-get install -y obs-studio');
  need(which('xvfb-run') && which('Xvfb'), 'xvfb-run', 'apt-get install -y xvfb xauth');
  need(which('nginx') && existsSync('/usr/lib/nginx/modules/ngx_rtmp_module.so'), 'nginx with the RTMP module', 'apt-get install -y nginx libnginx-mod-rtmp');
  need(which('ffmpeg') && which('ffprobe'), 'ffmpeg', 'apt-get install -y ffmpeg');
  need(which('dbus-daemon') && which('dbus-send') && which('gnome-keyring-daemon'), 'D-Bus and gnome-keyring', 'apt-get install -y dbus gnome-keyring');
  need(existsSync(nativeDriver), nativeDriver, 'apt-get install -y webkit2gtk-driver');
  need(existsSync(app), `the app binary (${app})`, 'npm --prefix ui run build && cargo build --release -p marquee-app (or set MARQUEE_APP, e.g. to a dev build)');
  need(existsSync(cli), `the marquee CLI (${cli})`, 'cargo build -p marquee-cli (or set MARQUEE_BIN)');
  try {
    appModules.resolve('webdriverio');
  } catch {
    need(false, "tests/app's node modules (webdriverio, tauri-driver)", 'npm --prefix tests/app install');
  }

  const started = new Date();
  const uptimeStart = execFileSync('uptime').toString().trim();
  console.error(`start: ${uptimeStart}`);
  const dir = mkdtempSync(join(tmpdir(), 'marquee-bench-obs-'));
  workDir = dir;
  // nginx's worker (nobody) writes its recordings below it.
  chmodSync(dir, 0o755);
  const media = join(dir, 'bench-source.mp4');
  makeMedia(media);
  const rtmpPort = await freePort();
  const nginxDir = join(dir, 'nginx');
  const server = `rtmp://127.0.0.1:${rtmpPort}/live`;
  // Throwaway keys, one per program, so nginx's recordings tell the two streams apart.
  const tag = Math.random().toString(36).slice(2, 8);
  const obsKey = `obs-bench-${tag}`;
  const marqueeKey = `marquee-bench-${tag}`;
  let results;
  let nginx;
  let keychain;
  try {
    nginx = await startNginx(nginxDir, rtmpPort);
    keychain = await startKeychain(mkdtempSync(join(dir, 'keyring-')));
    const withObs = ONLY !== 'marquee';
    const obsIdle = withObs ? await runObs({ live: false, media, server, key: obsKey, bus: keychain.address, dir }) : null;
    const obsLive = withObs ? await runObs({ live: true, media, server, key: obsKey, bus: keychain.address, dir }) : null;
    const marquee = await runMarquee({ media, server, keyName: 'bench', key: marqueeKey, bus: keychain.address, dir });
    results = { obs: { idle: obsIdle, live: obsLive }, marquee };
  } finally {
    await keychain?.stop();
    await stopGroup(nginx);
  }
  const recordDir = join(nginxDir, 'record');
  results.obs.server = recordedAtServer(recordDir, obsKey);
  results.marquee.server = recordedAtServer(recordDir, marqueeKey);
  const atServer = ONLY === 'marquee' ? { Marquee: results.marquee.server } : { OBS: results.obs.server, Marquee: results.marquee.server };
  for (const [who, r] of Object.entries(atServer)) {
    if (!r.length || !r[0].video || !r[0].audio || r[0].video_frames < JOB.fps * 5) throw new Error(`${who}'s stream did not reach nginx as it should: ${JSON.stringify(r)}`);
  }
  const uptimeEnd = execFileSync('uptime').toString().trim();
  if (ONLY === 'marquee') return marqueeOnly(results.marquee, { started, uptimeStart, uptimeEnd, dir });

  const mib = (b) => b / 1048576;
  const ratio = (a, b) => Math.round((a / b) * 100) / 100;
  const q = { obs: results.obs, marquee: results.marquee };
  const ratios = {
    idle_cpu: ratio(q.marquee.idle.cpu_pct, q.obs.idle.cpu_pct),
    idle_pss: ratio(q.marquee.idle.pss_bytes, q.obs.idle.pss_bytes),
    live_cpu: ratio(q.marquee.live.cpu_pct, q.obs.live.cpu_pct),
    live_pss: ratio(q.marquee.live.pss_bytes, q.obs.live.pss_bytes),
  };
  const doc = {
    date: started.toISOString(),
    machine: { cpu: cpus()[0]?.model, cores: cpus().length, memory_gib: Math.round(totalmem() / 2 ** 30), kernel: execFileSync('uname', ['-r']).toString().trim() },
    uptime_start: uptimeStart,
    uptime_end: uptimeEnd,
    job: JOB,
    settle_s: SETTLE_S,
    window_s: WINDOW_S,
    obs: { version: obsVersion(), ...results.obs },
    marquee: { app, profile: app.includes('/release/') ? 'release' : 'dev', commit: gitCommit(), ...results.marquee },
    ratios_marquee_over_obs: ratios,
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(doc, null, 2));

  const f0 = (n) => n.toFixed(0);
  const f1 = (n) => n.toFixed(1);
  const srv = (s) => `${s[0].video_frames} / ${f1(s[0].seconds)} s (${f1(s[0].fps)} fps, ${s[0].kbps} kbps)`;
  const lines = [
    `**Marquee app vs OBS Studio** (${JOB.width}x${JOB.height}@${JOB.fps} looping media file, x264 ${JOB.preset} CBR ${JOB.kbps}k, AAC ${JOB.audioKbps}k, to local nginx-rtmp; CPU over ${WINDOW_S} s after ${SETTLE_S} s, % of one core)`,
    '',
    '| program | idle CPU % | idle PSS MiB | live CPU % | live PSS MiB | at the server (frames / s) |',
    '| --- | ---: | ---: | ---: | ---: | --- |',
    `| OBS Studio ${doc.obs.version.replace(/^OBS Studio -\s*/, '')} | ${f1(q.obs.idle.cpu_pct)} | ${f0(mib(q.obs.idle.pss_bytes))} | ${f1(q.obs.live.cpu_pct)} | ${f0(mib(q.obs.live.pss_bytes))} | ${srv(q.obs.server)} |`,
    `| Marquee app (${doc.marquee.profile} profile) | ${f1(q.marquee.idle.cpu_pct)} | ${f0(mib(q.marquee.idle.pss_bytes))} | ${f1(q.marquee.live.cpu_pct)} | ${f0(mib(q.marquee.live.pss_bytes))} | ${srv(q.marquee.server)} |`,
    `| **Marquee / OBS** | **${ratios.idle_cpu}×** | **${ratios.idle_pss}×** | **${ratios.live_cpu}×** | **${ratios.live_pss}×** | |`,
    '',
    (q.obs.live.obs_frames.drawn == null
      ? "OBS's log for its live session has no frame counters. "
      : `OBS's log for its live session (launch to close): ${q.obs.live.obs_frames.drawn} of ${q.obs.live.obs_frames.draw_attempted} frames rendered, ${q.obs.live.obs_frames.lagged_render} lagged (rendering lag), ${q.obs.live.obs_frames.skipped_encode} skipped (encoding lag). `) +
      `Marquee's engine over its live window: ${f1(q.marquee.live.engine.fps)} fps out, dropped ${JSON.stringify(q.marquee.live.engine.dropped_in_window)}.`,
    `Private memory (USS) idle / live, MiB: OBS ${f0(mib(q.obs.idle.uss_bytes))} / ${f0(mib(q.obs.live.uss_bytes))}, Marquee ${f0(mib(q.marquee.idle.uss_bytes))} / ${f0(mib(q.marquee.live.uss_bytes))}; RSS: OBS ${f0(mib(q.obs.idle.rss_bytes))} / ${f0(mib(q.obs.live.rss_bytes))}, Marquee ${f0(mib(q.marquee.idle.rss_bytes))} / ${f0(mib(q.marquee.live.rss_bytes))}.`,
    ...[['OBS idle', q.obs.idle], ['OBS live', q.obs.live], ['Marquee idle', q.marquee.idle], ['Marquee live', q.marquee.live]]
      .filter(([, r]) => r.other_processes_sharing_libraries.length)
      .map(([k, r]) => `WARNING: during ${k}, other programs on the machine shared its libraries (${r.other_processes_sharing_libraries.join(', ')}): its PSS reads lower than alone; compare USS, or re-run when they are gone.`),
    `Xvfb beside each (not in the numbers above), idle / live: OBS ${f1(q.obs.idle.xvfb_cpu_pct)} / ${f1(q.obs.live.xvfb_cpu_pct)} %, Marquee ${f1(q.marquee.idle.xvfb_cpu_pct)} / ${f1(q.marquee.live.xvfb_cpu_pct)} %.`,
    `The rest of the machine during each window (% of one core), OBS idle / live, Marquee idle / live: ${[q.obs.idle, q.obs.live, q.marquee.idle, q.marquee.live].map((r) => f0(r.others_cpu_pct)).join(' / ')}; load average ${uptimeStart.replace(/.*load average: /, '')} at the start, ${uptimeEnd.replace(/.*load average: /, '')} at the end.`,
    '',
    'Where the CPU went while live (% of one core, by thread name):',
    `- OBS: ${Object.entries(q.obs.live.cpu_per_thread).slice(0, 8).map(([k, v]) => `${k} ${f1(v)}`).join(', ')}`,
    `- Marquee: ${Object.entries(q.marquee.live.cpu_per_thread).slice(0, 8).map(([k, v]) => `${k} ${f1(v)}`).join(', ')}`,
    'PSS while live by process (MiB):',
    `- OBS: ${Object.entries(q.obs.live.pss_per_process).map(([k, v]) => `${k.split('#')[0]} ${f0(mib(v))}`).join(', ')}`,
    `- Marquee: ${Object.entries(q.marquee.live.pss_per_process).map(([k, v]) => `${k.split('#')[0]} ${f0(mib(v))}`).join(', ')}`,
    '',
    `JSON (with per-process PSS breakdowns): ${out}; the programs' logs: ${join(dirname(out), 'app_vs_obs-logs')}`,
  ];
  console.log(lines.join('\n'));
  // The programs' logs stay beside the JSON; the rest (media file, recordings, homes) goes.
  const logs = join(dirname(out), 'app_vs_obs-logs');
  mkdirSync(logs, { recursive: true });
  for (const f of ['obs-idle.log', 'obs-live.log', 'marquee-driver.log']) copyFileSync(join(dir, f), join(logs, f));
  rmSync(dir, { recursive: true, force: true });
}

/** ONLY=marquee: the app's numbers alone (no OBS, so no ratios), for quicker iterations. */
function marqueeOnly(m, { started, uptimeStart, uptimeEnd, dir }) {
  const doc = {
    date: started.toISOString(), uptime_start: uptimeStart, uptime_end: uptimeEnd, job: JOB, settle_s: SETTLE_S, window_s: WINDOW_S,
    marquee: { app, profile: app.includes('/release/') ? 'release' : 'dev', commit: gitCommit(), ...m },
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(doc, null, 2));
  const mib = (b) => (b / 1048576).toFixed(0);
  const per = (r) => Object.entries(r.pss_per_process).map(([k, v]) => `${k.split('#')[0]} ${mib(v)}`).join(', ');
  console.log([
    `Marquee app alone (${doc.marquee.profile} profile; OBS skipped): idle ${m.idle.cpu_pct} % CPU, PSS ${mib(m.idle.pss_bytes)} MiB (USS ${mib(m.idle.uss_bytes)}: ${per(m.idle)}); live ${m.live.cpu_pct} % CPU, PSS ${mib(m.live.pss_bytes)} MiB (USS ${mib(m.live.uss_bytes)}: ${per(m.live)}); ${m.live.engine.fps} fps out, dropped ${JSON.stringify(m.live.engine.dropped_in_window)}`,
    `The rest of the machine, idle / live: ${m.idle.others_cpu_pct} / ${m.live.others_cpu_pct} % of a core; other programs sharing libraries: ${[...m.idle.other_processes_sharing_libraries, ...m.live.other_processes_sharing_libraries].join(', ') || 'none'}.`,
    `JSON: ${out}`,
  ].join('\n'));
  const logs = join(dirname(out), 'app_vs_obs-logs');
  mkdirSync(logs, { recursive: true });
  copyFileSync(join(dir, 'marquee-driver.log'), join(logs, 'marquee-driver.log'));
  rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e?.stack ?? e);
  if (workDir) console.error(`logs and files kept for a look: ${workDir}`);
  process.exit(1);
});
