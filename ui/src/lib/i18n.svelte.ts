// The UI language (English or 简体中文) and `t()` over the string table (strings.ts). The
// language follows the OS until the user picks one (remembered in localStorage).

import { STRINGS } from './strings';

export type MessageKey = keyof typeof STRINGS;

export type Locale = 'en' | 'zh-CN';
export const LOCALES: { id: Locale; label: string }[] = [
  { id: 'zh-CN', label: '简体中文' },
  { id: 'en', label: 'English' },
];
const STORAGE_KEY = 'marquee.locale';

/** Maps any BCP 47 tag (`zh-Hans-CN`, `zh_CN.UTF-8`, `en-GB`) to a supported locale. */
export function matchLocale(tag: string | null | undefined): Locale {
  return tag && /^zh/i.test(tag) ? 'zh-CN' : 'en';
}

function stored(): Locale | null {
  try {
    const v = globalThis.localStorage?.getItem(STORAGE_KEY);
    return v === 'en' || v === 'zh-CN' ? v : null;
  } catch {
    return null;
  }
}

let current = $state<Locale>(stored() ?? matchLocale(globalThis.navigator?.language));

export const i18n = {
  get locale(): Locale {
    return current;
  },
  /** The user's explicit choice (remembered). */
  set(locale: Locale) {
    current = locale;
    try {
      globalThis.localStorage?.setItem(STORAGE_KEY, locale);
    } catch {
      /* private mode: not remembered */
    }
    if (globalThis.document) document.documentElement.lang = locale;
  },
  /** The OS language, applied unless the user picked one. */
  followOs(tag: string) {
    if (!stored()) current = matchLocale(tag);
    if (globalThis.document) document.documentElement.lang = current;
  },
  /** Forget the choice (tests). */
  reset(tag?: string) {
    try {
      globalThis.localStorage?.removeItem(STORAGE_KEY);
    } catch {
      /* ignore */
    }
    current = matchLocale(tag ?? globalThis.navigator?.language);
  },
};

/** The string for `key` in the current language, with `{name}` placeholders filled. */
export function t(key: MessageKey, params?: Record<string, string | number>): string {
  const text: string = STRINGS[key]?.[current] ?? key;
  return params ? text.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m)) : text;
}

/** Whether `key` is one of ours (a code from the backend may name a case the UI does not know). */
export function hasMessage(key: string): key is MessageKey {
  return key in STRINGS;
}


/** `1:02:03` / `02:03`. */
export function formatDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}
