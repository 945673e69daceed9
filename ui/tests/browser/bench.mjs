// Chat list benchmark in headless Chromium: the virtualised ChatList (fed through ChatFeed,
// one batch per frame) against the previous ChatList (last 300 rendered, the backlog array
// copied per message) as the peer, in the same run. Prints a table and writes
// tests/browser/artifacts/bench-chat.json. Not a test: nothing here asserts a time.
//   npm --prefix ui run bench:chat            (QUICK=1: 4x shorter, one run; REPS=n runs each)
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { buildHarness, ensureArtifacts, launch, requireChromium, serve } from './lib.mjs';

requireChromium();
const out = ensureArtifacts();
const quick = process.env.QUICK === '1';
const S = (s) => (quick ? Math.max(2, Math.round(s / 4)) : s);
await buildHarness();
const server = await serve();
const browser = await launch();

async function fresh(scene) {
  const p = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await p.goto(`${server.url}#${scene}?lang=zh-CN`);
  await p.waitForFunction(() => !!window.bench);
  // Warm-up (JIT, CJK font loading, first layouts) before anything is measured.
  await p.evaluate(() => window.bench.run({ rate: 200, seconds: 1, old: location.hash.includes('old') }));
  await p.waitForTimeout(500);
  return p;
}

const scenarios = [
  { name: '200 msg/s, 20 s', seconds: S(20), run: (p) => p.evaluate((s) => window.bench.run({ rate: 200, seconds: s, old: location.hash.includes('old') }), S(20)) },
  { name: '2,000 msg/s burst, 5 s', run: (p) => p.evaluate((s) => window.bench.run({ rate: 2000, seconds: s, old: location.hash.includes('old') }), S(5)) },
  {
    name: '200 msg/s over a 100k backlog, 10 s',
    run: async (p) => {
      const fill = await p.evaluate(() => window.bench.backlog(100_000));
      const r = await p.evaluate((s) => window.bench.run({ rate: 200, seconds: s, old: location.hash.includes('old') }), S(10));
      return { ...r, backlogFillMs: fill };
    },
  },
  {
    name: 'scroll a 100k backlog, 6 s',
    onlyNew: true,
    run: async (p) => {
      const fill = await p.evaluate(() => window.bench.backlog(100_000));
      return { ...(await p.evaluate((s) => window.bench.scrollJank(s), S(6))), backlogFillMs: fill };
    },
  },
];

// The machine is shared and noisy: each scenario runs REPS times (default 3), new and previous
// interleaved, and the table shows the median of each number (worst longest frame alongside).
const REPS = Number(process.env.REPS ?? (quick ? 1 : 3));
const raw = [];
for (const sc of scenarios) {
  for (let rep = 0; rep < REPS; rep++) {
    for (const variant of ['bench', 'bench-old']) {
      if (sc.onlyNew && variant === 'bench-old') continue;
      const p = await fresh(variant);
      // Main-thread time from the browser's own counters: less sensitive to the other
      // processes on the machine than frame times.
      const cdp = await p.context().newCDPSession(p);
      await cdp.send('Performance.enable');
      const metrics = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
      let r;
      try {
        const m0 = await metrics();
        const t0 = performance.now();
        r = await sc.run(p);
        const m1 = await metrics();
        const wall = (performance.now() - t0) / 1000;
        const d = (k) => m1[k] - m0[k];
        r = { ...r, busyPct: +((100 * d('TaskDuration')) / wall).toFixed(0), scriptMsPerS: +((1000 * d('ScriptDuration')) / wall).toFixed(0), layoutStyleMsPerS: +((1000 * (d('LayoutDuration') + d('RecalcStyleDuration'))) / wall).toFixed(0) };
      } catch (e) {
        r = { error: String(e).split('\n')[0] };
      }
      await p.close();
      const row = { scenario: sc.name, list: variant === 'bench' ? 'virtualised (new)' : 'previous (300 rows)', rep, ...r };
      raw.push(row);
      console.error(`${row.scenario} — ${row.list} #${rep + 1}: ${JSON.stringify(r)}`);
    }
  }
}
const median = (xs) => {
  const s = xs.filter((x) => typeof x === 'number').sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : undefined;
};
const results = [];
for (const sc of scenarios) {
  for (const list of ['virtualised (new)', 'previous (300 rows)']) {
    const runs = raw.filter((r) => r.scenario === sc.name && r.list === list);
    if (!runs.length) continue;
    const m = (k) => median(runs.map((r) => r[k]));
    results.push({
      scenario: sc.name,
      list,
      runs: runs.length,
      fpsP50: m('fpsP50'),
      fpsP5: m('fpsP5'),
      longestFrame: m('longestFrame'),
      worstFrame: Math.max(...runs.map((r) => r.longestFrame ?? 0)),
      over50ms: m('over50ms'),
      longTasks: m('longTasks'),
      longTaskMax: m('longTaskMax'),
      busyPct: m('busyPct'),
      scriptMsPerS: m('scriptMsPerS'),
      layoutStyleMsPerS: m('layoutStyleMsPerS'),
      domRowsMax: Math.max(...runs.map((r) => r.domRowsMax ?? 0)),
      sent: runs[0].sent,
      inList: runs[0].inList,
      allPresent: runs.every((r) => r.allPresent !== false) && runs[0].allPresent !== undefined ? true : runs[0].allPresent === undefined ? undefined : false,
      backlogFillMs: m('backlogFillMs'),
    });
  }
}
await browser.close();
server.close();

const cols = ['scenario', 'list', 'fpsP50', 'fpsP5', 'longestFrame', 'worstFrame', 'over50ms', 'longTasks', 'longTaskMax', 'busyPct', 'scriptMsPerS', 'layoutStyleMsPerS', 'domRowsMax', 'sent', 'inList', 'allPresent'];
const head = ['scenario', 'list', 'fps p50', 'fps p5', 'longest frame ms', 'worst of runs ms', 'frames >50 ms', 'long tasks', 'longest task ms', 'main thread busy %', 'script ms/s', 'style+layout ms/s', 'DOM rows (max)', 'sent (per run)', 'in list', 'all present'];
const fmt = (v) => (v === undefined ? '—' : typeof v === 'boolean' ? (v ? 'yes' : 'NO') : String(v));
const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...results.map((r) => `| ${cols.map((c) => fmt(r[c])).join(' | ')} |`)];
const meta = { date: new Date().toISOString(), quick, reps: REPS, node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, loadavg: loadavg().map((x) => +x.toFixed(2)) };
console.log(`\nChat list benchmark (${meta.date}, ${meta.cpus} CPUs, load ${meta.loadavg.join(' ')}, median of ${REPS} run(s))\n`);
console.log(lines.join('\n'));
writeFileSync(join(out, 'bench-chat.json'), JSON.stringify({ meta, results, runs: raw }, null, 2));
console.log(`\nwritten ${join(out, 'bench-chat.json')}`);
