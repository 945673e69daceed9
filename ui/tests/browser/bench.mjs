// Chat list benchmark in headless Chromium: the virtualised ChatList (fed through ChatFeed,
// one batch per frame) against the previous ChatList (last 300 rendered, the backlog array
// copied per message) as the peer, in the same run. Prints a table and writes
// tests/browser/artifacts/bench-chat.json. Not a test: nothing here asserts a time.
//   npm --prefix ui run bench:chat            (QUICK=1 for a 4x shorter run)
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

const results = [];
for (const sc of scenarios) {
  for (const variant of ['bench', 'bench-old']) {
    if (sc.onlyNew && variant === 'bench-old') continue;
    const p = await fresh(variant);
    const t0 = Date.now();
    let r;
    try {
      r = await sc.run(p);
    } catch (e) {
      r = { error: String(e).split('\n')[0] };
    }
    await p.close();
    const row = { scenario: sc.name, list: variant === 'bench' ? 'virtualised (new)' : 'previous (300 rows)', wallS: +((Date.now() - t0) / 1000).toFixed(1), ...r };
    results.push(row);
    console.error(`${row.scenario} — ${row.list}: ${JSON.stringify(r)}`);
  }
}
await browser.close();
server.close();

const cols = ['scenario', 'list', 'fpsP50', 'fpsP5', 'longestFrame', 'over50ms', 'longTasks', 'longTaskMax', 'domRowsMax', 'sent', 'inList', 'allPresent'];
const head = ['scenario', 'list', 'fps p50', 'fps p5', 'longest frame ms', 'frames >50 ms', 'long tasks', 'longest task ms', 'DOM rows (max)', 'sent', 'in list', 'all present'];
const fmt = (v) => (v === undefined ? '—' : typeof v === 'boolean' ? (v ? 'yes' : 'NO') : String(v));
const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...results.map((r) => `| ${cols.map((c) => fmt(r[c])).join(' | ')} |`)];
const meta = { date: new Date().toISOString(), quick, node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, loadavg: loadavg().map((x) => +x.toFixed(2)) };
console.log(`\nChat list benchmark (${meta.date}, ${meta.cpus} CPUs, load ${meta.loadavg.join(' ')})\n`);
console.log(lines.join('\n'));
writeFileSync(join(out, 'bench-chat.json'), JSON.stringify({ meta, results }, null, 2));
console.log(`\nwritten ${join(out, 'bench-chat.json')}`);
