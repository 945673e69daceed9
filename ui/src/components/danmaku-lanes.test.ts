import { describe, expect, it } from 'vitest';
import { DanmakuLanes, speedFor, xAt, type Placed } from './danmaku-lanes';

/** A small deterministic PRNG (mulberry32) so the long run is reproducible. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('danmaku lanes', () => {
  it('scrolling comments never overlap in a lane over a long random run', () => {
    const W = 1280;
    const lanes = new DanmakuLanes({ width: W, height: 360, laneHeight: 32, gap: 16, maxOnScreen: 200 });
    const rand = rng(42);
    const placed: Placed[] = [];
    let now = 0;
    for (let i = 0; i < 20_000; i++) {
      // Bursty arrivals: mostly quick, sometimes a pause.
      now += rand() < 0.05 ? rand() * 3000 : rand() * 40;
      const width = 20 + Math.floor(rand() * 900);
      const p = lanes.place(i, width, 'scroll', now);
      if (p) placed.push(p);
    }
    expect(placed.length).toBeGreaterThan(2000);
    expect(lanes.dropped).toBeGreaterThan(0);

    const byLane = new Map<number, Placed[]>();
    for (const p of placed) {
      if (!byLane.has(p.lane)) byLane.set(p.lane, []);
      byLane.get(p.lane)!.push(p);
    }
    let pairs = 0;
    let closest = Infinity;
    for (const list of byLane.values()) {
      for (let i = 1; i < list.length; i++) {
        // Every earlier comment still on screen when this one enters.
        const b = list[i];
        for (let j = i - 1; j >= 0 && list[j].end > b.start; j--) {
          const a = list[j];
          pairs++;
          const until = Math.min(a.end, b.end);
          // Sampled every 10 ms while both are on screen, plus the exact end.
          for (let t = b.start; t <= until + 10; t += 10) {
            const at = Math.min(t, until);
            closest = Math.min(closest, xAt(b, W, at) - (xAt(a, W, at) + a.width));
          }
        }
      }
    }
    expect(pairs).toBeGreaterThan(1000);
    expect(closest).toBeGreaterThanOrEqual(-1e-6);
  });

  it('scrolling comments never pass through a top or bottom comment', () => {
    const W = 960;
    const H = 540;
    const lh = 36;
    const lanes = new DanmakuLanes({ width: W, height: H, laneHeight: lh, maxOnScreen: 500 });
    const rand = rng(7);
    const placed: Placed[] = [];
    let now = 0;
    for (let i = 0; i < 8000; i++) {
      now += rand() * (i % 2000 < 1000 ? 40 : 800);
      const r = rand();
      const p = lanes.place(i, 30 + Math.floor(rand() * 500), r < 0.1 ? 'top' : r < 0.2 ? 'bottom' : 'scroll', now);
      if (p) placed.push(p);
    }
    const fixed = placed.filter((p) => p.mode !== 'scroll');
    const scroll = placed.filter((p) => p.mode === 'scroll');
    expect(fixed.length).toBeGreaterThan(50);
    let checked = 0;
    for (const f of fixed) {
      const fl = (W - f.width) / 2;
      const fr = fl + f.width;
      for (const s of scroll) {
        if (s.y >= f.y + lh || f.y >= s.y + lh || s.end <= f.start || f.end <= s.start) continue;
        for (let t = Math.max(f.start, s.start); t <= Math.min(f.end, s.end); t += 20) {
          checked++;
          const x = xAt(s, W, t);
          expect(x >= fr || x + s.width <= fl).toBe(true);
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  it('a longer comment moves faster and all cross in the same time', () => {
    const W = 1280;
    expect(speedFor(600, W, 8000)).toBeGreaterThan(speedFor(60, W, 8000));
    const lanes = new DanmakuLanes({ width: W, height: 360, laneHeight: 32 });
    const short = lanes.place('a', 60, 'scroll', 0)!;
    const long = lanes.place('b', 600, 'scroll', 0)!;
    expect(long.speed).toBeGreaterThan(short.speed);
    expect(long.end - long.start).toBe(short.end - short.start);
    // Both have fully left the screen at their end time.
    expect(xAt(short, W, short.end) + short.width).toBeCloseTo(0);
    expect(xAt(long, W, long.end) + long.width).toBeCloseTo(0);
  });

  it('a faster comment waits until it can no longer catch the one ahead', () => {
    const W = 1000;
    const lanes = new DanmakuLanes({ width: W, height: 32, laneHeight: 32, gap: 20, scrollMs: 8000 });
    const slow = lanes.place('slow', 50, 'scroll', 0)!;
    expect(slow.lane).toBe(0);
    // One second later the short one is well inside, but a very long (fast) comment would catch it.
    expect(lanes.place('fast', 900, 'scroll', 1000)).toBeNull();
    // Once the short one is close enough to leaving, the long one may go.
    let t = 1000;
    let p: Placed | null = null;
    while (!p && t < 8000) p = lanes.place('fast', 900, 'scroll', (t += 100));
    expect(p).not.toBeNull();
    expect(xAt(p!, W, slow.end)).toBeGreaterThanOrEqual(20);
  });

  it('fixed comments stay about four seconds and then free their lane', () => {
    const lanes = new DanmakuLanes({ width: 1280, height: 64, laneHeight: 32, fixedMs: 4000 });
    expect(lanes.fixedLanes).toBe(1);
    const a = lanes.place('a', 100, 'top', 0)!;
    expect(a.lane).toBe(0);
    expect(a.end).toBe(4000);
    // The only top lane is busy: dropped and counted.
    expect(lanes.place('b', 100, 'top', 1000)).toBeNull();
    expect(lanes.dropped).toBe(1);
    // Bottom comments have their own lanes, at the bottom.
    const bottom = lanes.place('c', 100, 'bottom', 1000)!;
    expect(bottom.y).toBe(32);
    expect(lanes.expire(3999).map((p) => p.id)).toEqual([]);
    expect(lanes.expire(4000).map((p) => p.id)).toEqual(['a']);
    expect(lanes.place('d', 100, 'top', 4001)?.lane).toBe(0);
  });

  it('bounds the number on screen and counts the drops', () => {
    const lanes = new DanmakuLanes({ width: 1280, height: 720, laneHeight: 32, maxOnScreen: 5 });
    let shown = 0;
    for (let i = 0; i < 50; i++) if (lanes.place(i, 40, i % 3 === 0 ? 'top' : 'scroll', i)) shown++;
    expect(shown).toBe(5);
    expect(lanes.dropped).toBe(45);
    expect(lanes.onScreen(49)).toBe(5);
    expect(lanes.onScreen(20_000)).toBe(0);
  });

  it('fills lanes from the top (first and last rows last) and fits the lane count to the height', () => {
    const lanes = new DanmakuLanes({ width: 800, height: 100, laneHeight: 30 });
    expect(lanes.scrollLanes).toBe(3);
    expect([0, 1, 2].map((i) => lanes.place(i, 100, 'scroll', 0)?.lane)).toEqual([0, 1, 2]);
    expect(lanes.place(3, 100, 'scroll', 0)).toBeNull();
    lanes.resize(800, 200);
    expect(lanes.scrollLanes).toBe(6);
    expect(lanes.place(4, 100, 'scroll', 0)?.lane).toBe(3);
    // With room to spare the first and last rows stay free for top/bottom comments.
    const more = new DanmakuLanes({ width: 800, height: 180, laneHeight: 30 });
    expect([0, 1, 2, 3, 4, 5].map((i) => more.place(i, 100, 'scroll', 0)?.lane)).toEqual([1, 2, 3, 4, 0, 5]);
  });
});
