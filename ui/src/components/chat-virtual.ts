// Row geometry for the virtualised chat list: a height per row (estimated until measured) and
// prefix sums, recomputed lazily from the first row that changed. Pure TS; no DOM.

export class RowHeights {
  private h: Float64Array;
  /** off[i] = top of row i; off[n] = total height. Valid for indices ≤ `valid`. */
  private off: Float64Array;
  private valid = 0;
  /** Rows measured at least once. */
  private measured: Uint8Array;
  count = 0;

  constructor(public estimate: number, capacity = 1024) {
    this.h = new Float64Array(capacity);
    this.off = new Float64Array(capacity + 1);
    this.measured = new Uint8Array(capacity);
  }

  private grow(n: number) {
    if (n <= this.h.length) return;
    let cap = this.h.length;
    while (cap < n) cap *= 2;
    const h = new Float64Array(cap);
    h.set(this.h);
    const off = new Float64Array(cap + 1);
    off.set(this.off);
    const m = new Uint8Array(cap);
    m.set(this.measured);
    this.h = h;
    this.off = off;
    this.measured = m;
  }

  /** Rows now number `n`; new ones get the estimate. */
  setCount(n: number) {
    this.grow(n);
    for (let i = this.count; i < n; i++) {
      this.h[i] = this.estimate;
      this.measured[i] = 0;
    }
    if (n < this.count) this.valid = Math.min(this.valid, n);
    this.count = n;
  }

  /** The first `k` rows were removed (a capped backlog dropped its oldest). Returns the height
   *  that went away, so a scroll position can be kept. */
  dropFront(k: number): number {
    k = Math.min(k, this.count);
    if (k <= 0) return 0;
    const gone = this.top(k);
    this.h.copyWithin(0, k, this.count);
    this.measured.copyWithin(0, k, this.count);
    this.count -= k;
    this.valid = 0;
    return gone;
  }

  /** Record a measured height; returns the change. */
  set(i: number, height: number): number {
    if (i < 0 || i >= this.count) return 0;
    this.measured[i] = 1;
    const d = height - this.h[i];
    if (Math.abs(d) < 0.5) return 0;
    this.h[i] = height;
    if (i < this.valid) this.valid = i;
    return d;
  }

  height(i: number): number {
    return this.h[i];
  }

  isMeasured(i: number): boolean {
    return this.measured[i] === 1;
  }

  private ensure(upto: number) {
    upto = Math.min(upto, this.count);
    if (upto <= this.valid) return;
    const off = this.off;
    const h = this.h;
    for (let i = this.valid; i < upto; i++) off[i + 1] = off[i] + h[i];
    this.valid = upto;
  }

  /** Top of row `i` (i = count gives the total height). */
  top(i: number): number {
    this.ensure(i);
    return this.off[Math.min(i, this.count)];
  }

  total(): number {
    return this.top(this.count);
  }

  /** The row at `y` px from the top (clamped to the rows that exist). */
  indexAt(y: number): number {
    if (this.count === 0) return 0;
    this.ensure(this.count);
    let lo = 0;
    let hi = this.count - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.off[mid] <= y) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

/** Rows to render for a viewport: [start, end) with overscan on both sides. */
export function visibleRange(rows: RowHeights, scrollTop: number, viewport: number, overscan: number): [number, number] {
  if (rows.count === 0) return [0, 0];
  const first = rows.indexAt(Math.max(0, scrollTop));
  const last = rows.indexAt(Math.max(0, scrollTop + viewport));
  return [Math.max(0, first - overscan), Math.min(rows.count, last + 1 + overscan)];
}
