import { afterEach, describe, expect, it } from 'vitest';
import { formatDuration, i18n, LOCALES, matchLocale, t } from './i18n.svelte';
import { STRINGS } from './strings';

afterEach(() => i18n.reset('en-US'));

describe('i18n', () => {
  it('follows the OS language: zh variants pick 简体中文, anything else English', () => {
    expect(matchLocale('zh-CN')).toBe('zh-CN');
    expect(matchLocale('zh_CN.UTF-8')).toBe('zh-CN');
    expect(matchLocale('zh-Hans-CN')).toBe('zh-CN');
    expect(matchLocale('en-GB')).toBe('en');
    expect(matchLocale('de')).toBe('en');
    expect(matchLocale(undefined)).toBe('en');
  });

  it('translates and fills placeholders', () => {
    i18n.reset('en');
    expect(t('live.go')).toBe('Go Live');
    expect(t('state.reconnecting', { n: 3 })).toBe('reconnecting #3');
    i18n.set('zh-CN');
    expect(t('live.go')).toBe('开始直播');
    expect(t('state.failed', { reason: 'x' })).toBe('失败：x');
  });

  it('the user choice wins over the OS language and is remembered', () => {
    i18n.set('zh-CN');
    i18n.followOs('en-US');
    expect(i18n.locale).toBe('zh-CN');
    expect(localStorage.getItem('marquee.locale')).toBe('zh-CN');
    i18n.reset('en-US');
    i18n.followOs('zh-CN');
    expect(i18n.locale).toBe('zh-CN');
  });

  it('every string has both languages, and the same placeholders in each', () => {
    const locales = LOCALES.map((l) => l.id).sort();
    const placeholders = (text: string) => (text.match(/\{\w+\}/g) ?? []).sort();
    for (const [key, entry] of Object.entries(STRINGS) as [string, Record<string, unknown>][]) {
      expect(Object.keys(entry).sort(), key).toEqual(locales);
      for (const l of locales) expect(typeof entry[l] === 'string' && (entry[l] as string).trim() !== '', `${key} (${l})`).toBe(true);
      expect(placeholders(entry['zh-CN'] as string), key).toEqual(placeholders(entry.en as string));
    }
  });

  it('formats durations like a live timer', () => {
    expect(formatDuration(0)).toBe('00:00');
    expect(formatDuration(65.9)).toBe('01:05');
    expect(formatDuration(3723)).toBe('1:02:03');
  });
});
