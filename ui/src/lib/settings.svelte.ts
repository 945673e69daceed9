// What the app remembers between runs (`load_settings` / `save_settings`), the destinations
// and their stream keys (src-tauri/src/commands/settings.rs).

import type { AppSettings, DestinationSetting, NetInterface, Preflight } from '../bindings';
import type { AppStore } from './app.svelte';
import { i18n, type Locale } from './i18n.svelte';

/** The settings before any are loaded (and what the mock starts from). */
export function defaultSettings(): AppSettings {
  return {
    video: 'test',
    audio: 'tone',
    width: 1280,
    height: 720,
    fps: 30,
    bitrate_kbps: 2500,
    encoder: 'x264',
    destinations: [],
    record: false,
    mic_gain_db: 0,
    language: null,
    theme: null,
    danmaku_overlay: true,
    first_run_done: true,
    room: { slow_mode_s: 0, mods_only: false, blocked_mode: 'mask', blocked_words: [], user_rate_per_min: 0 },
    room_home: { mode: 'this_computer', lan_address: null, port: null, hosted_url: '', hosted_room: '', ca_file: null },
    source_mics: {},
    director: false,
    director_hold_s: 3,
    overlays: [],
    guests: { slots: 0, green_room: true, layout: 'auto', view: 'program' },
    adaptive_bitrate: true,
    min_bitrate_kbps: null,
    chat_sources: [],
    twitch_client_id: null,
    youtube_client_id: null,
  };
}

const DEST_KEY = 'marquee.destinations';

function loadDestinations(): DestinationSetting[] {
  try {
    const v = JSON.parse(globalThis.localStorage?.getItem(DEST_KEY) ?? '[]');
    return Array.isArray(v) ? v.filter((d) => typeof d?.url === 'string') : [];
  } catch {
    return [];
  }
}

/** Remembers the destinations in the page's storage, only those whose key is in the keychain:
 *  a key pasted into a server field must never reach a file (the backend moves it on save). */
function rememberDestinations(list: DestinationSetting[]) {
  try {
    globalThis.localStorage?.setItem(DEST_KEY, JSON.stringify(list.filter((d) => d.key_name)));
  } catch {
    /* not remembered */
  }
}

export class SettingsStore {
  /** What the app remembers (loaded at start, saved on change). */
  value = $state<AppSettings>(defaultSettings());
  loaded = $state(false);
  /** The first-run wizard is showing. */
  firstRun = $state(false);
  /** The settings dialog is open. */
  open = $state(false);
  destinations = $state<DestinationSetting[]>(loadDestinations());
  record = $state(false);
  /** For "where the room lives": this machine's addresses and whether a host key is stored
   *  (loaded when the dialog opens: `loadRoomHome`). */
  interfaces = $state<NetInterface[]>([]);
  hostKeyStored = $state(false);

  constructor(private app: AppStore) {}

  /** Loads what was remembered and applies its language and theme; null when it failed. */
  async load(): Promise<AppSettings | null> {
    try {
      const s = await this.app.backend.loadSettings();
      this.value = s;
      this.destinations = s.destinations.length ? s.destinations : this.destinations;
      this.record = s.record;
      this.firstRun = !s.first_run_done;
      if (s.language === 'en' || s.language === 'zh-CN') i18n.set(s.language);
      this.applyTheme();
      return s;
    } catch (e) {
      this.app.fail(e);
      return null;
    }
  }

  applyTheme() {
    const th = this.value.theme;
    if (globalThis.document) {
      if (th === 'light' || th === 'system') document.documentElement.dataset.theme = th;
      else delete document.documentElement.dataset.theme;
    }
  }

  /** Saves the settings (and applies language and theme). */
  async save(next: AppSettings) {
    this.value = next;
    this.destinations = next.destinations;
    this.record = next.record;
    if (next.language === 'en' || next.language === 'zh-CN') i18n.set(next.language as Locale);
    this.applyTheme();
    try {
      // A stream key pasted into a server field comes back moved into the keychain.
      const saved = await this.app.backend.saveSettings($state.snapshot(next) as AppSettings);
      if (JSON.stringify(saved.destinations) !== JSON.stringify(next.destinations)) {
        this.value = { ...this.value, destinations: saved.destinations };
        this.destinations = saved.destinations;
        rememberDestinations(saved.destinations);
      }
    } catch (e) {
      this.app.fail(e);
    }
  }

  /** Changes some settings and saves them. */
  persist(patch: Partial<AppSettings>) {
    void this.save({ ...$state.snapshot(this.value), ...patch } as AppSettings);
  }

  /** The page's own danmaku layer over the preview. */
  setDanmakuOverlay(on: boolean) {
    this.persist({ danmaku_overlay: on });
  }

  setLanguage(l: Locale) {
    i18n.set(l);
    if (this.loaded) this.persist({ language: l });
  }

  saveDestinations(list: DestinationSetting[]) {
    this.destinations = list;
    rememberDestinations(list);
    if (this.loaded) this.persist({ destinations: $state.snapshot(list) as DestinationSetting[] });
  }

  /** Stores a stream key in the OS keychain (it never comes back). */
  async saveKey(name: string, key: string) {
    await this.app.backend.setStreamKey(name, key);
  }

  /** Keeps (or with null forgets) a network camera's passphrase; rejects with the reason. */
  async setNetworkPassphrase(port: number, passphrase: string | null) {
    await this.app.backend.setNetworkCameraPassphrase(port, passphrase);
    await this.app.refreshDevices();
  }

  async addDestination(url: string, keyName: string | null, key: string | null) {
    try {
      if (keyName && key) await this.app.backend.setStreamKey(keyName, key);
      this.saveDestinations([...this.destinations, { url, key_name: keyName || null }]);
      return true;
    } catch (e) {
      this.app.fail(e);
      return false;
    }
  }

  removeDestination(i: number) {
    this.saveDestinations(this.destinations.filter((_, j) => j !== i));
  }

  setRecord(on: boolean) {
    this.record = on;
    if (this.loaded) this.persist({ record: on });
  }

  /** This machine's network addresses and whether a host key is in the keychain. */
  async loadRoomHome() {
    try {
      const [ifs, stored] = await Promise.all([this.app.backend.roomInterfaces(), this.app.backend.roomHostKeyStored()]);
      this.interfaces = ifs;
      this.hostKeyStored = stored;
    } catch (e) {
      this.app.fail(e);
    }
  }

  /** Keeps a hosted room's host key in the OS keychain (rejects with the reason). */
  async saveHostKey(key: string) {
    await this.app.backend.setRoomHostKey(key);
    this.hostKeyStored = true;
  }

  /** "Test connection": rejects with the reason. */
  async testConnection(d: DestinationSetting): Promise<Preflight> {
    return this.app.backend.testConnection(d);
  }
}
