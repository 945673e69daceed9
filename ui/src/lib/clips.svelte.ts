// The clip library and highlight suggestions (`clip_*`, `recordings_list`, `suggestion*`:
// src-tauri/src/commands/clips.rs).

import type { ClipInfo, ExportReport, RecordingInfo, SuggestionItem, SuggestionList } from '../bindings';
import type { AppStore } from './app.svelte';
import { toAppError } from './ipc';

/** A 9:16 export under way: which clip of how many, and how far. */
export interface ExportState {
  names: string[];
  index: number;
  total: number;
  name: string;
  fraction: number;
}

export type ClipsTab = 'library' | 'suggestions';

/** The file name of a path (either separator). */
export function baseName(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

/** An `<img>` source for thumbnail bytes: JPEG from the app, SVG from the mock. Revoke it. */
export function imageUrl(bytes: ArrayBuffer): string {
  const head = new Uint8Array(bytes, 0, Math.min(2, bytes.byteLength));
  const type = head[0] === 0xff && head[1] === 0xd8 ? 'image/jpeg' : 'image/svg+xml';
  return URL.createObjectURL(new Blob([bytes], { type }));
}

export class ClipsStore {
  /** The clips drawer is open. */
  open = $state(false);
  tab = $state<ClipsTab>('library');
  list = $state<ClipInfo[]>([]);
  loading = $state(false);
  /** Thumbnail URLs by clip name (`null`: none could be made). */
  thumbs = $state<Record<string, string | null>>({});
  /** An error about the library (`name`: on that clip's row; null: the whole list). */
  error = $state<{ name: string | null; message: string } | null>(null);
  exporting = $state<ExportState | null>(null);
  exportReport = $state<ExportReport | null>(null);
  recordings = $state<RecordingInfo[]>([]);
  suggestionsFor = $state<string | null>(null);
  suggestionList = $state<SuggestionList | null>(null);
  suggestionsLoading = $state(false);
  suggestionsError = $state<string | null>(null);
  /** The suggestion being kept (its peak second). */
  keeping = $state<number | null>(null);
  private thumbWanted = new Set<string>();

  constructor(private app: AppStore) {}

  private get backend() {
    return this.app.backend;
  }

  /** Opens or closes the clips drawer (L); opening refreshes what it shows. */
  toggle(open = !this.open, tab?: ClipsTab) {
    this.open = open;
    if (tab) this.tab = tab;
    if (open) {
      void this.refresh();
      if (this.tab === 'suggestions' || tab === 'suggestions') void this.refreshRecordings();
    }
  }

  setTab(tab: ClipsTab) {
    this.tab = tab;
    if (tab === 'suggestions') void this.refreshRecordings();
  }

  async refresh() {
    this.loading = true;
    try {
      this.list = await this.backend.clipList();
      if (this.error?.name == null) this.error = null;
      // Thumbnails of clips that are gone are released.
      const names = new Set(this.list.map((c) => c.name));
      for (const n of Object.keys(this.thumbs)) if (!names.has(n)) this.dropThumb(n);
    } catch (e) {
      this.error = { name: null, message: toAppError(e).message };
    } finally {
      this.loading = false;
    }
  }

  /** Asks once for a clip's thumbnail. */
  async loadThumb(name: string) {
    if (name in this.thumbs || this.thumbWanted.has(name)) return;
    this.thumbWanted.add(name);
    try {
      const url = imageUrl(await this.backend.clipThumbnail(name));
      this.thumbs = { ...this.thumbs, [name]: url };
    } catch {
      // Shown as "No picture" on the clip itself.
      this.thumbs = { ...this.thumbs, [name]: null };
    } finally {
      this.thumbWanted.delete(name);
    }
  }

  private dropThumb(name: string) {
    const url = this.thumbs[name];
    if (url?.startsWith('blob:')) URL.revokeObjectURL(url);
    const next = { ...this.thumbs };
    delete next[name];
    this.thumbs = next;
  }

  async openClip(name: string) {
    try {
      await this.backend.clipOpen(name);
    } catch (e) {
      this.error = { name, message: toAppError(e).message };
    }
  }

  /** Renames a clip; the error message (shown under the name field) or null when done. */
  async renameClip(name: string, newName: string): Promise<string | null> {
    try {
      const c = await this.backend.clipRename(name, newName);
      const url = this.thumbs[name];
      if (url !== undefined) {
        const next = { ...this.thumbs, [c.name]: url };
        if (c.name !== name) delete next[name];
        this.thumbs = next;
      }
      this.list = this.list.map((x) => (x.name === name ? c : x));
      return null;
    } catch (e) {
      return toAppError(e).message;
    }
  }

  async deleteClip(name: string) {
    try {
      await this.backend.clipDelete(name);
      this.list = this.list.filter((c) => c.name !== name);
      this.dropThumb(name);
      if (this.error?.name === name) this.error = null;
    } catch (e) {
      this.error = { name, message: toAppError(e).message };
    }
  }

  /** Exports clips 9:16, one after the other, with progress; the report says what failed. */
  async exportClips(names: string[]) {
    if (this.exporting || names.length === 0) return;
    this.exportReport = null;
    this.exporting = { names, index: 0, total: names.length, name: names[0], fraction: 0 };
    try {
      this.exportReport = await this.backend.clipExport(names, (p) => {
        this.exporting = { names, index: p.index, total: p.total, name: p.name, fraction: p.fraction };
      });
    } catch (e) {
      this.exportReport = { exported: [], failed: names.map((name) => ({ name, reason: toAppError(e).message })) };
    } finally {
      this.exporting = null;
    }
    await this.refresh();
  }

  async refreshRecordings() {
    try {
      this.recordings = await this.backend.recordingsList();
      if (!this.suggestionsFor && this.recordings.length) void this.loadSuggestions(this.recordings[0].name);
    } catch (e) {
      this.suggestionsError = toAppError(e).message;
    }
  }

  /** Computes a recording's suggestions (the engine decodes its audio: can take seconds). */
  async loadSuggestions(recording: string) {
    this.suggestionsFor = recording;
    this.suggestionsLoading = true;
    this.suggestionsError = null;
    this.suggestionList = null;
    try {
      const list = await this.backend.suggestions(recording);
      if (this.suggestionsFor === recording) this.suggestionList = list;
    } catch (e) {
      if (this.suggestionsFor === recording) this.suggestionsError = toAppError(e).message;
    } finally {
      if (this.suggestionsFor === recording) this.suggestionsLoading = false;
    }
  }

  /** After a stream with a recording: its best moments, from the recording and the room's
   *  signals. */
  showSuggestionsOf(recordingPath: string) {
    this.toggle(true, 'suggestions');
    void this.loadSuggestions(baseName(recordingPath));
  }

  private patchSuggestion(item: SuggestionItem, patch: Partial<SuggestionItem> | null) {
    const l = this.suggestionList;
    if (!l) return;
    const same = (s: SuggestionItem) => s.from_s === item.from_s && s.to_s === item.to_s;
    this.suggestionList = {
      ...l,
      items: patch ? l.items.map((s) => (same(s) ? { ...s, ...patch } : s)) : l.items.filter((s) => !same(s)),
      discarded: l.discarded + (patch ? 0 : 1),
    };
  }

  /** Keep: the range is cut from the recording into the library. */
  async keepSuggestion(item: SuggestionItem) {
    const rec = this.suggestionsFor;
    if (!rec || this.keeping != null) return;
    this.keeping = item.at_s;
    this.suggestionsError = null;
    try {
      const clip = await this.backend.suggestionKeep(rec, item.from_s, item.to_s);
      this.patchSuggestion(item, { kept: clip.name });
      await this.refresh();
    } catch (e) {
      this.suggestionsError = toAppError(e).message;
    } finally {
      this.keeping = null;
    }
  }

  /** Discard: hidden now and remembered beside the recording. */
  async discardSuggestion(item: SuggestionItem) {
    const rec = this.suggestionsFor;
    if (!rec) return;
    try {
      await this.backend.suggestionDiscard(rec, item.from_s, item.to_s);
      this.patchSuggestion(item, null);
    } catch (e) {
      this.suggestionsError = toAppError(e).message;
    }
  }
}
