// Lanes for danmaku flying over the video: no two in a lane ever overlap, each crosses in the
// same time (so a longer one moves faster), and the number of lanes fits the video's height.
// Pure (times are numbers the caller passes), so it is tested in Node (crates/room/tests/
// viewer/lanes.test.mjs) and used by player.js in the page.
(function (root, factory) {
  if (typeof module === "object" && module.exports) module.exports = factory();
  else root.MarqueeLanes = factory();
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  const DEFAULTS = {
    lineHeight: 30, // px per lane
    duration: 8000, // ms for a scrolling danmaku to cross the width
    hold: 4000, // ms a top or bottom danmaku stays
    gap: 24, // px kept between two danmaku in a lane
    maxLanes: 20,
  };

  function Lanes(opts) {
    this.o = Object.assign({}, DEFAULTS, opts || {});
    this.width = 0;
    this.count = 1;
    this.scrolling = []; // per lane: { start, width, speed } of the last one in it
    this.top = []; // per lane: until when a top danmaku holds it
    this.bottom = [];
  }

  /** The stage is now `width` × `height` px: as many lanes as fit (at least one). */
  Lanes.prototype.resize = function (width, height) {
    this.width = Math.max(0, width);
    const n = Math.floor(Math.max(0, height) / this.o.lineHeight);
    this.count = Math.max(1, Math.min(this.o.maxLanes, n));
    this.scrolling.length = Math.min(this.scrolling.length, this.count);
    this.top.length = Math.min(this.top.length, this.count);
    this.bottom.length = Math.min(this.bottom.length, this.count);
  };

  /** px per ms of a scrolling danmaku `w` px wide: it crosses `width + w` in `duration`. */
  Lanes.prototype.speed = function (w) {
    return (this.width + w) / this.o.duration;
  };

  /** Whether a danmaku `w` px wide may enter `lane` at `now`: the last one there has fully
   *  come in (plus the gap) and will have left before the new one's head gets to the left edge. */
  Lanes.prototype.fits = function (lane, w, now) {
    const last = this.scrolling[lane];
    if (!last) return true;
    const entered = last.start + (last.width + this.o.gap) / last.speed;
    const leaves = last.start + (this.width + last.width) / last.speed;
    const arrives = now + this.width / this.speed(w);
    return now >= entered && arrives >= leaves;
  };

  /** A scrolling danmaku `w` px wide at `now`: its lane, `top` px, `duration` ms and the
   *  translateX it goes `from` and `to`; null when every lane is taken. */
  Lanes.prototype.scroll = function (w, now) {
    for (let lane = 0; lane < this.count; lane++) {
      if (!this.fits(lane, w, now)) continue;
      const speed = this.speed(w);
      this.scrolling[lane] = { start: now, width: w, speed };
      return { lane, top: lane * this.o.lineHeight, duration: this.o.duration, from: this.width, to: -w };
    }
    return null;
  };

  /** A danmaku held at the top (`mode` "top", lanes from the top) or the bottom ("bottom",
   *  lanes from the bottom) at `now`: its lane, `top` px and `duration` ms; null when full. */
  Lanes.prototype.fixed = function (mode, now) {
    const held = mode === "bottom" ? this.bottom : this.top;
    for (let lane = 0; lane < this.count; lane++) {
      if ((held[lane] || 0) > now) continue;
      held[lane] = now + this.o.hold;
      const row = mode === "bottom" ? this.count - 1 - lane : lane;
      return { lane, top: row * this.o.lineHeight, duration: this.o.hold };
    }
    return null;
  };

  Lanes.DEFAULTS = DEFAULTS;
  return Lanes;
});
