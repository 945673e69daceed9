// `tx()`: the app's `t()` when it knows the key (so once a key is in the app's tables that text
// wins), else the components' own text from component-strings.ts. README.md lists the keys.

import { i18n, t, type MessageKey } from '../lib/i18n.svelte';
import { COMPONENT_STRINGS as STRINGS, type ComponentStringKey } from './component-strings';

export { STRINGS };

export type StringKey = ComponentStringKey;

/** `t(key)` from the app when it knows the key, else the components' own text. Reactive on the
 *  app language (reads `i18n.locale`). */
export function tx(key: StringKey, params?: Record<string, string | number>): string {
  const fromApp = t(key as unknown as MessageKey, params);
  if (fromApp !== key) return fromApp;
  const table = STRINGS[i18n.locale] ?? STRINGS.en;
  const text: string = table[key] ?? STRINGS.en[key] ?? key;
  return params ? text.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m)) : text;
}
