// The danmaku lane allocator (crates/room/src/viewer/lanes.js): no overlap within a lane,
// speed by width, lanes fitted to the height.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const Lanes = createRequire(import.meta.url)("../../src/viewer/lanes.js");

function lanes(width, height, opts) {
  const l = new Lanes(opts);
  l.resize(width, height);
  return l;
}

test("the number of lanes fits the height, at least one, at most maxLanes", () => {
  assert.equal(lanes(1280, 720).count, 20);
  assert.equal(lanes(1280, 300).count, 10);
  assert.equal(lanes(360, 203).count, 6);
  assert.equal(lanes(100, 10).count, 1);
  const l = lanes(640, 360);
  l.scroll(100, 0);
  l.resize(320, 60);
  assert.equal(l.count, 2);
});

test("danmaku sent together take different lanes, top first", () => {
  const l = lanes(1000, 300);
  const got = [0, 1, 2].map(() => l.scroll(120, 0).lane);
  assert.deepEqual(got, [0, 1, 2]);
  assert.equal(l.scroll(120, 0).top, 3 * Lanes.DEFAULTS.lineHeight);
});

test("a longer danmaku moves faster: every one crosses in the same time", () => {
  const l = lanes(1000, 300);
  assert.ok(l.speed(400) > l.speed(100));
  assert.ok(Math.abs((1000 + 400) / l.speed(400) - Lanes.DEFAULTS.duration) < 1e-6);
});

test("a lane is reused once the last one has come in, unless the new one would catch it", () => {
  const l = lanes(1000, 30); // one lane
  const D = Lanes.DEFAULTS.duration;
  assert.equal(l.scroll(200, 0).lane, 0);
  assert.equal(l.scroll(200, 100), null, "the first has not fully come in yet");
  const entered = (200 + Lanes.DEFAULTS.gap) / l.speed(200);
  assert.equal(l.scroll(200, entered + 1).lane, 0, "same width: same speed, never catches up");
  // A much longer one after a short one is faster: it must wait until it cannot catch up.
  const m = lanes(1000, 30);
  m.scroll(50, 0);
  const early = (50 + Lanes.DEFAULTS.gap) / m.speed(50) + 1;
  assert.equal(m.scroll(900, early), null);
  const leaves = (1000 + 50) / m.speed(50);
  const safe = leaves - 1000 / m.speed(900);
  assert.equal(m.scroll(900, safe + 1).lane, 0);
  assert.ok(safe < D);
});

test("a random stream never overlaps within a lane", () => {
  const W = 800;
  const l = lanes(W, 240);
  const placed = [];
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let now = 0; now < 60000; now += Math.floor(rnd() * 150)) {
    const w = 20 + Math.floor(rnd() * 500);
    const p = l.scroll(w, now);
    if (p) placed.push({ ...p, w, start: now });
  }
  assert.ok(placed.length > 200, `${placed.length} placed`);
  const x = (p, t) => p.from - ((W + p.w) / p.duration) * (t - p.start);
  for (let t = 0; t < 70000; t += 50) {
    const on = placed.filter((p) => t >= p.start && t <= p.start + p.duration);
    for (const a of on) {
      for (const b of on) {
        if (a === b || a.lane !== b.lane || a.start >= b.start) continue;
        // a went in first: its right edge stays left of b's left edge.
        assert.ok(x(a, t) + a.w <= x(b, t) + 0.001, `lane ${a.lane} overlaps at ${t} ms`);
      }
    }
  }
});

test("top and bottom danmaku hold their lanes, from the top and from the bottom", () => {
  const l = lanes(640, 90); // three lanes
  assert.equal(l.fixed("top", 0).top, 0);
  assert.equal(l.fixed("top", 0).top, 30);
  assert.equal(l.fixed("bottom", 0).top, 60);
  l.fixed("top", 0);
  assert.equal(l.fixed("top", 1), null, "all three top lanes held");
  assert.equal(l.fixed("top", Lanes.DEFAULTS.hold).lane, 0, "free again after the hold");
});
