// Lane assignment for danmaku (bullet comments) over the preview. Pure: time is passed in (ms),
// nothing here touches the DOM, so the rules are tested without sleeping.
//
// Scrolling comments all cross the screen in the same time (`scrollMs`), so a longer comment
// moves faster: speed = (screen width + comment width) / scrollMs. A comment enters a lane only
// when the lane's previous comment has fully entered with a gap AND the new one, even if faster,
// can never catch it before it leaves the screen. Top/bottom comments stay fixed for `fixedMs`
// on their own lanes, and a scrolling comment never passes through one (nor the other way
// round). When no lane is free, or `maxOnScreen` is reached, the comment is dropped
// (and counted): a burst never piles up.

export type DanmakuMode = 'scroll' | 'top' | 'bottom';

export interface LaneOptions {
  /** Layer size in px. */
  width: number;
  height: number;
  /** Lane height in px (font size × ~1.35). */
  laneHeight: number;
  /** Time for a scrolling comment to cross the screen, ms. Default 8000. */
  scrollMs?: number;
  /** How long a top/bottom comment stays, ms. Default 4000. */
  fixedMs?: number;
  /** Minimum horizontal gap between two comments in a lane, px. Default 24. */
  gap?: number;
  /** Comments on screen at once, all modes. Default 60. */
  maxOnScreen?: number;
  /** Share of the height scrolling comments may use (0–1]. Default 1. */
  scrollArea?: number;
}

export interface Placed {
  id: string | number;
  mode: DanmakuMode;
  lane: number;
  /** Top of the comment's lane, px from the top of the layer. */
  y: number;
  width: number;
  start: number;
  end: number;
  /** px per ms (scroll) — 0 for fixed comments. */
  speed: number;
}

/** Speed of a scrolling comment: everything crosses in `scrollMs`, so longer is faster. */
export function speedFor(width: number, screenWidth: number, scrollMs: number): number {
  return (screenWidth + width) / scrollMs;
}

/** Left edge of a scrolling comment at time `t` (it starts just off the right edge). */
export function xAt(p: Placed, screenWidth: number, t: number): number {
  return screenWidth - p.speed * (t - p.start);
}

export class DanmakuLanes {
  /** Comments refused because no lane was free or the screen was full. */
  dropped = 0;
  /** Comments placed since creation. */
  placed = 0;
  private o: Required<LaneOptions>;
  private scrollLast: (Placed | null)[] = [];
  private topLanes: (Placed | null)[] = [];
  private bottomLanes: (Placed | null)[] = [];
  private live: Placed[] = [];

  constructor(opts: LaneOptions) {
    this.o = { scrollMs: 8000, fixedMs: 4000, gap: 24, maxOnScreen: 60, scrollArea: 1, ...opts };
    this.resize(opts.width, opts.height);
  }

  get options(): Readonly<Required<LaneOptions>> {
    return this.o;
  }

  /** Lanes available to scrolling comments. */
  get scrollLanes(): number {
    return Math.max(1, Math.floor((this.o.height * this.o.scrollArea) / this.o.laneHeight));
  }

  /** Lanes available to top (and to bottom) comments. */
  get fixedLanes(): number {
    return Math.max(1, Math.floor(this.o.height / this.o.laneHeight / 2));
  }

  /** New size (or lane height). Comments already moving keep going; lanes that no longer fit
   *  are forgotten. */
  resize(width: number, height: number, laneHeight = this.o.laneHeight) {
    this.o.width = Math.max(1, width);
    this.o.height = Math.max(1, height);
    this.o.laneHeight = Math.max(1, laneHeight);
    const fit = <T>(a: (T | null)[], n: number) => Array.from({ length: n }, (_, i) => a[i] ?? null);
    this.scrollLast = fit(this.scrollLast, this.scrollLanes);
    this.topLanes = fit(this.topLanes, this.fixedLanes);
    this.bottomLanes = fit(this.bottomLanes, this.fixedLanes);
  }

  /** Comments still on screen at `now`. */
  onScreen(now: number): number {
    this.prune(now);
    return this.live.length;
  }

  /** Remove and return the comments whose time is over at `now`. */
  expire(now: number): Placed[] {
    const gone: Placed[] = [];
    const keep: Placed[] = [];
    for (const p of this.live) (p.end <= now ? gone : keep).push(p);
    this.live = keep;
    for (const lanes of [this.topLanes, this.bottomLanes, this.scrollLast]) {
      for (let i = 0; i < lanes.length; i++) if (lanes[i] && lanes[i]!.end <= now) lanes[i] = null;
    }
    return gone;
  }

  /** Forget every comment (the overlay was turned off). */
  clear() {
    this.live = [];
    this.scrollLast = this.scrollLast.map(() => null);
    this.topLanes = this.topLanes.map(() => null);
    this.bottomLanes = this.bottomLanes.map(() => null);
  }

  /** Find a lane for a comment `width` px wide at `now`; null when it is dropped. */
  place(id: string | number, width: number, mode: DanmakuMode, now: number): Placed | null {
    this.prune(now);
    if (this.live.length >= this.o.maxOnScreen) {
      this.dropped++;
      return null;
    }
    const p = mode === 'scroll' ? this.placeScroll(id, width, now) : this.placeFixed(id, width, mode, now);
    if (!p) {
      this.dropped++;
      return null;
    }
    this.live.push(p);
    this.placed++;
    return p;
  }

  /** Whether a comment `width` wide entering at `now` can use a lane whose last comment is `a`. */
  canFollow(a: Placed | null, width: number, now: number): boolean {
    if (!a || a.end <= now) return true;
    const { width: W, gap, scrollMs } = this.o;
    // 1. The previous comment's tail is on screen, with a gap behind it.
    if ((now - a.start) * a.speed < a.width + gap) return false;
    // 2. Distance between them changes linearly, so checking when `a` leaves is enough: the new
    //    one's head must still be at least `gap` from the left edge then.
    const v = speedFor(width, W, scrollMs);
    if (v <= a.speed) return true;
    return W - v * (a.end - now) >= gap;
  }

  /** Scrolling comments fill from the top, but take the first and last rows (where top and
   *  bottom comments go) only when every other lane is busy. */
  private scrollOrder(): number[] {
    const n = this.scrollLast.length;
    if (n < 4) return Array.from({ length: n }, (_, i) => i);
    const order = Array.from({ length: n - 2 }, (_, i) => i + 1);
    order.push(0, n - 1);
    return order;
  }

  /** When a scrolling comment covers the horizontal band [left, right): its time interval. */
  private crossing(start: number, speed: number, width: number, left: number, right: number): [number, number] {
    const W = this.o.width;
    return [start + (W - right) / speed, start + (W + width - left) / speed];
  }

  /** Whether a scrolling comment (start, speed, width) on row `y` meets a fixed one there. */
  private hitsFixed(y: number, start: number, speed: number, width: number): boolean {
    const { laneHeight, width: W } = this.o;
    for (const f of this.live) {
      if (f.mode === 'scroll' || f.y >= y + laneHeight || y >= f.y + laneHeight) continue;
      const [a, b] = this.crossing(start, speed, width, (W - f.width) / 2, (W + f.width) / 2);
      if (a < f.end && b > f.start) return true;
    }
    return false;
  }

  /** Whether a fixed comment (width, on row `y`, from `now` for fixedMs) meets a scrolling one. */
  private hitsScroll(y: number, width: number, now: number): boolean {
    const { laneHeight, width: W, fixedMs } = this.o;
    for (const p of this.live) {
      if (p.mode !== 'scroll' || p.y >= y + laneHeight || y >= p.y + laneHeight) continue;
      const [a, b] = this.crossing(p.start, p.speed, p.width, (W - width) / 2, (W + width) / 2);
      if (a < now + fixedMs && b > now) return true;
    }
    return false;
  }

  private placeScroll(id: string | number, width: number, now: number): Placed | null {
    const { width: W, scrollMs, laneHeight } = this.o;
    const speed = speedFor(width, W, scrollMs);
    for (const lane of this.scrollOrder()) {
      if (!this.canFollow(this.scrollLast[lane], width, now)) continue;
      if (this.hitsFixed(lane * laneHeight, now, speed, width)) continue;
      const p: Placed = { id, mode: 'scroll', lane, y: lane * laneHeight, width, start: now, end: now + scrollMs, speed };
      this.scrollLast[lane] = p;
      return p;
    }
    return null;
  }

  private placeFixed(id: string | number, width: number, mode: 'top' | 'bottom', now: number): Placed | null {
    const lanes = mode === 'top' ? this.topLanes : this.bottomLanes;
    const { fixedMs, laneHeight, height } = this.o;
    for (let lane = 0; lane < lanes.length; lane++) {
      const cur = lanes[lane];
      if (cur && cur.end > now) continue;
      const y = mode === 'top' ? lane * laneHeight : height - (lane + 1) * laneHeight;
      if (this.hitsScroll(y, width, now)) continue;
      const p: Placed = { id, mode, lane, y, width, start: now, end: now + fixedMs, speed: 0 };
      lanes[lane] = p;
      return p;
    }
    return null;
  }

  private prune(now: number) {
    if (this.live.length && this.live.some((p) => p.end <= now)) this.live = this.live.filter((p) => p.end > now);
  }
}
