// Co-stream guests (连麦) while live: the panel polls `guests` once a second (slots, layout,
// each slot's invite link, the guests in the green room and on air), each guest's thumbnail
// twice a second, and sends the host's actions (src-tauri/src/commands/guests.rs).

import type { GuestInfo, GuestLayout, GuestView, GuestsView } from '../bindings';
import type { AppStore } from './app.svelte';
import { imageUrl } from './clips.svelte';

/** How often the panel asks for the guests, and for their pictures. */
const POLL_MS = 1000;
const THUMB_MS = 500;

export class GuestsStore {
  view = $state<GuestsView | null>(null);
  /** Thumbnail URLs by session (blob: URLs; revoked when replaced). */
  thumbs = $state<Record<number, string>>({});
  private poll: ReturnType<typeof setInterval> | null = null;
  private thumbPoll: ReturnType<typeof setInterval> | null = null;
  private thumbBusy = false;

  constructor(private readonly app: AppStore) {}

  private get backend() {
    return this.app.backend;
  }

  get waiting(): GuestInfo[] {
    return this.view?.guests.filter((g) => g.state === 'waiting') ?? [];
  }

  /** The guest on `slot`, if any. */
  on(slot: number): GuestInfo | undefined {
    return this.view?.guests.find((g) => g.slot === slot);
  }

  /** Starts polling (while live with guest slots). */
  start() {
    if (this.poll) return;
    void this.refresh();
    this.poll = setInterval(() => void this.refresh(), POLL_MS);
    this.thumbPoll = setInterval(() => void this.refreshThumbs(), THUMB_MS);
  }

  stop() {
    if (this.poll) clearInterval(this.poll);
    if (this.thumbPoll) clearInterval(this.thumbPoll);
    this.poll = this.thumbPoll = null;
    for (const url of Object.values(this.thumbs)) URL.revokeObjectURL(url);
    this.thumbs = {};
    this.view = null;
  }

  async refresh() {
    try {
      this.view = await this.backend.guests();
    } catch {
      // Not live (any more): the panel hides; going live starts it again.
      this.view = null;
    }
  }

  private async refreshThumbs() {
    if (this.thumbBusy || !this.view) return;
    this.thumbBusy = true;
    try {
      const next: Record<number, string> = {};
      for (const g of this.view.guests) {
        try {
          const bytes = await this.backend.guestThumbnail(g.session);
          if (bytes.byteLength > 0) next[g.session] = imageUrl(bytes);
          else if (this.thumbs[g.session]) next[g.session] = this.thumbs[g.session];
        } catch {
          /* the guest left between the list and the picture */
        }
      }
      for (const [s, url] of Object.entries(this.thumbs)) if (next[Number(s)] !== url) URL.revokeObjectURL(url);
      this.thumbs = next;
    } finally {
      this.thumbBusy = false;
    }
  }

  private async act(f: () => Promise<void>) {
    try {
      await f();
    } catch (e) {
      this.app.fail(e);
    }
    await this.refresh();
  }

  admit(session: number) {
    return this.act(() => this.backend.guestAdmit(session));
  }

  /** The longest-waiting guest goes on air (keyboard: A). */
  admitNext(): boolean {
    const g = this.waiting[0];
    if (!g) return false;
    void this.admit(g.session);
    return true;
  }

  decline(session: number) {
    return this.act(() => this.backend.guestDecline(session));
  }

  remove(session: number) {
    return this.act(() => this.backend.guestRemove(session));
  }

  mute(g: GuestInfo) {
    return this.act(() => this.backend.guestMute(g.session, !g.muted));
  }

  hide(g: GuestInfo) {
    return this.act(() => this.backend.guestHide(g.session, !g.hidden));
  }

  volume(session: number, db: number) {
    return this.act(() => this.backend.guestVolume(session, db));
  }

  setLayout(layout: GuestLayout) {
    return this.act(() => this.backend.guestLayout(layout));
  }

  setView(view: GuestView) {
    return this.act(() => this.backend.guestView(view));
  }

  newLink(slot: number) {
    return this.act(async () => {
      await this.backend.guestNewLink(slot);
    });
  }
}
