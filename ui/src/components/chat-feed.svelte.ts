// A chat backlog that takes messages one by one (as room events arrive) and applies them in
// batches, once per animation frame: a 2,000 msg/s burst costs one list update per frame, not
// 2,000, and nothing is lost. The array is mutated in place (no copy of a 100k backlog per
// message); `revision` is the reactive signal — pass both to <ChatList items revision>.

export interface FeedItem {
  id: number;
  deleted?: boolean;
  text?: string;
}

type Schedule = (fn: () => void) => void;

const nextFrame: Schedule = (fn) => {
  if (typeof requestAnimationFrame === 'function' && typeof document !== 'undefined' && !document.hidden) {
    // A hidden window gets no frames: fall back to a timer so the backlog still fills.
    let done = false;
    const run = () => {
      if (!done) {
        done = true;
        fn();
      }
    };
    requestAnimationFrame(run);
    setTimeout(run, 100);
  } else setTimeout(fn, 16);
};

export class ChatFeed<T extends FeedItem> {
  /** The backlog, oldest first. Read it; change it only through the methods. */
  readonly items: T[] = [];
  /** Bumped once per applied batch. */
  revision = $state(0);
  /** Messages received in total (including ones later trimmed from the front). */
  received = 0;
  private pending: T[] = [];
  private scheduled = false;

  constructor(
    /** Oldest messages beyond this are dropped from the front. */
    public keep = 100_000,
    private schedule: Schedule = nextFrame,
  ) {}

  push(item: T) {
    this.pending.push(item);
    this.received++;
    this.arm();
  }

  pushMany(list: readonly T[]) {
    for (const it of list) this.pending.push(it);
    this.received += list.length;
    this.arm();
  }

  /** Change one message in place (e.g. it was deleted). Ids are expected to grow; the search
   *  starts from the newest. Returns whether it was found. */
  update(id: number, patch: Partial<T>): boolean {
    for (const list of [this.pending, this.items]) {
      for (let i = list.length - 1; i >= 0; i--) {
        if (list[i].id === id) {
          list[i] = { ...list[i], ...patch };
          this.arm();
          return true;
        }
        if (list[i].id < id && list === this.items) break;
      }
    }
    return false;
  }

  clear() {
    this.items.length = 0;
    this.pending = [];
    this.revision++;
  }

  /** Apply what is pending now (tests; the frame callback calls it). */
  flush() {
    this.scheduled = false;
    const p = this.pending;
    this.pending = [];
    for (let i = 0; i < p.length; i++) this.items.push(p[i]);
    const over = this.items.length - this.keep;
    if (over > 0) this.items.splice(0, over);
    this.revision++;
  }

  private arm() {
    if (this.scheduled) return;
    this.scheduled = true;
    this.schedule(() => this.flush());
  }
}
