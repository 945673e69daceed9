import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { tick } from 'svelte';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { i18n } from '../lib/i18n.svelte';
import DanmakuOverlay from './DanmakuOverlay.svelte';
import GiftAlert from './GiftAlert.svelte';
import LotteryPanel from './LotteryPanel.svelte';
import QaPanel from './QaPanel.svelte';
import RoomSettings from './RoomSettings.svelte';
import ViewerCount, { formatCount } from './ViewerCount.svelte';
import ViewerLink from './ViewerLink.svelte';
import type { LotteryState, QaQuestion, RoomSettingsValue } from './types';

const settle = async () => {
  for (let i = 0; i < 4; i++) await tick();
  await new Promise((r) => setTimeout(r, 0));
};

beforeAll(() => {
  // jsdom has no Web Animations; Svelte transitions need a stand-in.
  if (!Element.prototype.animate) {
    Element.prototype.animate = function () {
      const a = { onfinish: null as null | (() => void), cancel() {}, finish() {}, play() {}, pause() {}, currentTime: 0, finished: Promise.resolve() };
      return a as unknown as Animation;
    };
  }
});

beforeEach(() => {
  localStorage.clear();
  i18n.reset('en-US');
});

describe('DanmakuOverlay', () => {
  it('shows pushed comments and, when turned off, empties and ignores pushes', async () => {
    let overlay: { push: (c: object) => boolean; counters: () => { onScreen: number; dropped: number } } | undefined;
    const { component, rerender } = render(DanmakuOverlay, { enabled: true });
    overlay = component as unknown as typeof overlay;
    const layer = screen.getByTestId('danmaku');
    expect(overlay!.push({ text: '前方高能', color: '#fe0302' })).toBe(true);
    expect(overlay!.push({ text: 'top!', mode: 'top' })).toBe(true);
    expect(layer.querySelectorAll('.dm')).toHaveLength(2);
    expect(layer.querySelector('.dm.scroll')).toHaveTextContent('前方高能');
    expect(layer.querySelector('.dm.top')).toHaveTextContent('top!');
    expect(overlay!.push({ text: '   ' })).toBe(false);

    await rerender({ enabled: false });
    await settle();
    expect(layer.querySelectorAll('.dm')).toHaveLength(0);
    expect(layer).toHaveAttribute('data-enabled', 'false');
    expect(overlay!.push({ text: 'while off' })).toBe(false);
  });

  it('takes a deleted comment off the screen', () => {
    const { component } = render(DanmakuOverlay, {});
    const o = component as unknown as { push: (c: object) => boolean; remove: (id: number) => void };
    o.push({ id: 7, text: 'spam spam' });
    o.push({ id: 8, text: 'nice' });
    const layer = screen.getByTestId('danmaku');
    expect(layer.querySelectorAll('.dm')).toHaveLength(2);
    o.remove(7);
    expect([...layer.querySelectorAll('.dm')].map((e) => e.textContent)).toEqual(['nice']);
  });

  it('drops and counts comments beyond the on-screen bound', () => {
    const { component } = render(DanmakuOverlay, { maxOnScreen: 3 });
    const o = component as unknown as { push: (c: object) => boolean; counters: () => { onScreen: number; dropped: number } };
    const shown = Array.from({ length: 10 }, (_, i) => o.push({ text: `c${i}`, mode: i % 2 ? 'top' : 'scroll' })).filter(Boolean);
    expect(shown).toHaveLength(3);
    expect(o.counters()).toMatchObject({ onScreen: 3, dropped: 7 });
  });

  it('pushes new chat rows from a reactive list once, skipping deleted ones', async () => {
    const items = [{ id: 1, text: 'one' }];
    const { rerender } = render(DanmakuOverlay, { items });
    await settle();
    const layer = screen.getByTestId('danmaku');
    expect(layer.querySelectorAll('.dm')).toHaveLength(1);
    await rerender({ items: [...items, { id: 2, text: 'two' }, { id: 3, text: 'gone', deleted: true }] });
    await settle();
    expect([...layer.querySelectorAll('.dm')].map((e) => e.textContent)).toEqual(['one', 'two']);
  });
});

describe('GiftAlert', () => {
  const catalog = [{ id: 'rocket', name: 'Rocket', name_zh: '火箭', price: 520, art: 'rocket.svg' }];

  it('shows who sent which gift with its art, ×count and the combo, in the UI language', async () => {
    const { rerender } = render(GiftAlert, { alert: { key: 1, user: '小红', gift: 'rocket', count: 3, combo: 4 }, catalog });
    const banner = screen.getByTestId('gift-alert');
    expect(banner).toHaveTextContent('小红');
    expect(banner).toHaveTextContent('sent Rocket');
    expect(banner).toHaveTextContent('×3');
    expect(screen.getByTestId('gift-combo')).toHaveTextContent('combo ×4');
    expect(banner.querySelector('img')).toHaveAttribute('src', '/assets/gifts/rocket.svg');
    expect(banner).toHaveAttribute('data-tier', 'epic');
    i18n.set('zh-CN');
    await settle();
    expect(screen.getByTestId('gift-alert')).toHaveTextContent('送出 火箭');
    await rerender({ alert: { key: 2, user: 'a', gift: 'mystery', count: 1, art: 'https://x/y.png' }, catalog });
    await settle();
    // The previous banner may still be leaving; the new one has no combo.
    const fresh = screen.getAllByTestId('gift-alert').at(-1)!;
    expect(fresh.querySelector('img')).toHaveAttribute('src', 'https://x/y.png');
    expect(fresh.querySelector('[data-testid="gift-combo"]')).toBeNull();
  });
});

describe('QaPanel', () => {
  const qs: QaQuestion[] = [
    { id: 1, user: 'Mira', text: 'stream tomorrow?', at: 0 },
    { id: 2, user: '小明', text: '用的什么麦克风？', at: 0 },
    { id: 3, user: 'old', text: 'answered one', at: 0, answered: true },
  ];

  it('pins a question to the screen, takes it off, and marks questions answered', async () => {
    const onpin = vi.fn();
    const onanswered = vi.fn();
    const { rerender } = render(QaPanel, { questions: qs, pinned: null, onpin, onanswered, now: 60_000 });
    expect(screen.getAllByTestId('qa-question')).toHaveLength(2);
    await fireEvent.click(within(screen.getAllByTestId('qa-question')[1]).getByText('Pin to screen'));
    expect(onpin).toHaveBeenCalledWith(2);
    await rerender({ questions: qs, pinned: 2, onpin, onanswered, now: 60_000 });
    const pinned = screen.getByTestId('qa-pinned');
    expect(pinned).toHaveTextContent('用的什么麦克风？');
    expect(screen.getAllByTestId('qa-question')).toHaveLength(1);
    await fireEvent.click(within(pinned).getByText('Take off screen'));
    expect(onpin).toHaveBeenLastCalledWith(null);
    await fireEvent.click(within(screen.getByTestId('qa-question')).getByText(/Mark answered/));
    expect(onanswered).toHaveBeenCalledWith(1, true);
    await fireEvent.click(screen.getByRole('tab', { name: 'Answered (1)' }));
    await fireEvent.click(screen.getByText('Reopen'));
    expect(onanswered).toHaveBeenLastCalledWith(3, false);
  });
});

describe('LotteryPanel', () => {
  it('asks for a keyword and a prize before starting, then starts with the duration', async () => {
    const onstart = vi.fn();
    render(LotteryPanel, { lottery: null, onstart });
    await fireEvent.click(screen.getByTestId('lottery-start'));
    expect(onstart).not.toHaveBeenCalled();
    expect(screen.getByText('Pick a word viewers will type, e.g. 666')).toBeInTheDocument();
    expect(screen.getByText('Say what they can win')).toBeInTheDocument();
    await fireEvent.input(screen.getByTestId('lottery-keyword'), { target: { value: ' 666 ' } });
    await fireEvent.input(screen.getByTestId('lottery-prize'), { target: { value: 'Signed photo' } });
    await fireEvent.click(screen.getByRole('radio', { name: '5 min' }));
    await fireEvent.click(screen.getByTestId('lottery-start'));
    expect(onstart).toHaveBeenCalledWith({ keyword: '666', prize: 'Signed photo', duration_s: 300 });
  });

  it('shows live entries and the commitment, draws N, then lists the winners with the revealed seed', async () => {
    const ondraw = vi.fn();
    const open: LotteryState = { lottery: 1, keyword: '666', prize: 'Photo', commitment: 'c0mm1t', seed: null, entrants: 1284, open: true, ends_at: 100_000 };
    const { rerender } = render(LotteryPanel, { lottery: open, ondraw, now: 10_000 });
    expect(screen.getByTestId('lottery-entries')).toHaveTextContent('1,284');
    expect(screen.getByTestId('lottery-commitment')).toHaveTextContent('c0mm1t');
    expect(screen.queryByTestId('lottery-seed')).toBeNull();
    expect(screen.getByText('01:30 left')).toBeInTheDocument();
    await fireEvent.input(screen.getByTestId('lottery-n'), { target: { value: '3' } });
    await fireEvent.click(screen.getByTestId('lottery-draw'));
    expect(ondraw).toHaveBeenCalledWith(3);
    await rerender({ lottery: { ...open, open: false, seed: 'abc123seed', verified: true, winners: ['a', 'b', 'c'], winner_names: ['Ann', '小明', 'Bo'] }, ondraw });
    expect(screen.getByTestId('lottery-winners')).toHaveTextContent('1Ann2小明3Bo');
    expect(screen.getByTestId('lottery-seed')).toHaveTextContent('abc123seed');
    expect(screen.getByTestId('lottery-verified')).toHaveTextContent('Verified');
    expect(screen.queryByTestId('lottery-draw')).toBeNull();
  });

  it('says so when a draw does not check out', () => {
    const drawn: LotteryState = { lottery: 2, keyword: 'k', prize: 'p', commitment: 'c', seed: 'tampered', verified: false, entrants: 2, open: false, winners: ['a'], winner_names: ['Ann'] };
    render(LotteryPanel, { lottery: drawn });
    expect(screen.getByTestId('lottery-verified')).toHaveTextContent('does not check out');
  });

  it('cannot draw before anyone entered', () => {
    render(LotteryPanel, { lottery: { lottery: 1, keyword: 'x', prize: 'y', commitment: 'c', entrants: 0, open: true } });
    expect(screen.getByTestId('lottery-draw')).toBeDisabled();
    expect(screen.getByText('Nobody has entered yet')).toBeInTheDocument();
  });
});

describe('RoomSettings', () => {
  const value: RoomSettingsValue = { blockedWords: ['spam'], blockedMode: 'mask', slowModeS: 0, modsOnly: false, userRatePerMin: 20 };

  it('adds blocked words by Enter and from a pasted list, removes one, and saves the whole value', async () => {
    const onsave = vi.fn();
    render(RoomSettings, { value, onsave });
    const input = screen.getByTestId('blocked-input');
    await fireEvent.input(input, { target: { value: '广告' } });
    await fireEvent.keyDown(input, { key: 'Enter' });
    const data = { getData: () => '刷单，加微信, SPAM\nbot' };
    await fireEvent.paste(input, { clipboardData: data });
    await fireEvent.click(screen.getByRole('button', { name: 'Remove bot' }));
    await fireEvent.click(screen.getByRole('radio', { name: /Don't show the message/ }));
    await fireEvent.change(screen.getByRole('combobox'), { target: { value: '10' } });
    await fireEvent.click(screen.getByTestId('mods-only'));
    await fireEvent.click(screen.getByRole('button', { name: 'Save room settings' }));
    expect(onsave).toHaveBeenCalledWith({ blockedWords: ['spam', '广告', '刷单', '加微信'], blockedMode: 'reject', slowModeS: 10, modsOnly: true, userRatePerMin: 20 });
    expect(screen.getByRole('status')).toHaveTextContent('Saved');
  });

  it('refuses an impossible per-viewer rate with a message', async () => {
    const onsave = vi.fn();
    render(RoomSettings, { value, onsave });
    await fireEvent.input(screen.getByTestId('rate-input'), { target: { value: '5000' } });
    expect(screen.getByText('Use a number from 0 to 600.')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Save room settings' })).toBeDisabled();
  });
});

describe('ViewerLink and ViewerCount', () => {
  it('draws the link as an SVG QR code and copies it', async () => {
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    const oncopy = vi.fn();
    render(ViewerLink, { url: 'http://192.168.1.20:7717/room/main', oncopy });
    const qr = screen.getByTestId('viewer-qr');
    expect(qr.tagName.toLowerCase()).toBe('svg');
    expect(qr.querySelector('path')!.getAttribute('d')!.length).toBeGreaterThan(500);
    await fireEvent.click(screen.getByTestId('viewer-copy'));
    await settle();
    expect(writeText).toHaveBeenCalledWith('http://192.168.1.20:7717/room/main');
    expect(oncopy).toHaveBeenCalled();
    expect(screen.getByTestId('viewer-copy')).toHaveTextContent('Copied');
  });

  it('formats large viewer counts per language', async () => {
    expect(formatCount(999, 'en')).toBe('999');
    expect(formatCount(12_345, 'en')).toBe('12.3K');
    expect(formatCount(2_000_000, 'en')).toBe('2M');
    expect(formatCount(12_345, 'zh-CN')).toBe('1.2万');
    expect(formatCount(9_999, 'zh-CN')).toBe('9999');
    render(ViewerCount, { count: 12_873 });
    expect(screen.getByTestId('viewer-count')).toHaveTextContent('12.9K watching');
    i18n.set('zh-CN');
    await settle();
    expect(screen.getByTestId('viewer-count')).toHaveTextContent('1.3万 人在看');
  });
});
