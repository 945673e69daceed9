import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { tick } from 'svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { i18n } from '../lib/i18n.svelte';
import ChatList from './ChatList.svelte';
import { ChatFeed } from './chat-feed.svelte';
import { RowHeights, visibleRange } from './chat-virtual';
import type { ChatRow } from './types';

const settle = async () => {
  for (let i = 0; i < 4; i++) await tick();
  await new Promise((r) => setTimeout(r, 0));
  for (let i = 0; i < 4; i++) await tick();
};

function rows(n: number, from = 1): ChatRow[] {
  return Array.from({ length: n }, (_, i) => ({ id: from + i, at: 0, user: `u${(from + i) % 7}`, role: 'viewer', text: `message ${from + i}`, color: '#ffffff', deleted: false, userId: `id${(from + i) % 7}` }));
}

beforeEach(() => {
  localStorage.clear();
  i18n.reset('en-US');
});

describe('ChatList', () => {
  it('renders only the rows in view for a 100,000-message backlog', async () => {
    render(ChatList, { items: rows(100_000) });
    await settle();
    const list = screen.getByTestId('chat-list');
    expect(list).toHaveAttribute('data-count', '100000');
    const shown = screen.getAllByTestId('chat-message');
    expect(shown.length).toBeGreaterThan(5);
    expect(shown.length).toBeLessThan(60);
    // Following the newest: the last message is among them.
    expect(shown.at(-1)).toHaveTextContent('message 100000');
  });

  it('applies a 2,000-message burst as one batch and loses nothing', async () => {
    const frames: (() => void)[] = [];
    const feed = new ChatFeed<ChatRow>(100_000, (fn) => frames.push(fn));
    const { rerender } = render(ChatList, { items: feed.items, revision: feed.revision });
    for (const r of rows(2000)) feed.push(r);
    expect(frames).toHaveLength(1);
    expect(feed.items).toHaveLength(0);
    frames.shift()!();
    expect(feed.revision).toBe(1);
    await rerender({ items: feed.items, revision: feed.revision });
    await settle();
    expect(screen.getByTestId('chat-list')).toHaveAttribute('data-count', '2000');
    expect(feed.items.map((r) => r.id)).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
    expect(screen.getAllByTestId('chat-message').at(-1)).toHaveTextContent('message 2000');
  });

  it('message menu: delete, timeouts and ban call onaction with the message', async () => {
    const onaction = vi.fn();
    const items = rows(3);
    render(ChatList, { items, onaction });
    await settle();
    const row = screen.getAllByTestId('chat-message')[1];
    const expected: [string, string][] = [
      ['Delete', 'delete'],
      ['Timeout 1 min', 'timeout_60'],
      ['Timeout 10 min', 'timeout_600'],
      ['Ban', 'ban'],
    ];
    for (const [label, action] of expected) {
      await fireEvent.click(within(row).getByTestId('chat-menu-button'));
      const menu = screen.getByRole('menu');
      expect(within(menu).queryByText('Pin as question')).toBeNull();
      await fireEvent.click(within(menu).getByRole('menuitem', { name: label }));
      expect(onaction).toHaveBeenLastCalledWith(action, items[1]);
      expect(screen.queryByRole('menu')).toBeNull();
    }
  });

  it('offers "Pin as question" only for questions, and no timeout or ban for the host', async () => {
    const onaction = vi.fn();
    const items: ChatRow[] = [
      { ...rows(1)[0], id: 1, text: 'when is the next stream?', question: true },
      { ...rows(1)[0], id: 2, role: 'host', user: 'me', text: 'welcome!' },
    ];
    render(ChatList, { items, onaction });
    await settle();
    const [q, host] = screen.getAllByTestId('chat-message');
    await fireEvent.click(within(q).getByTestId('chat-menu-button'));
    await fireEvent.click(within(screen.getByRole('menu')).getByRole('menuitem', { name: 'Pin as question' }));
    expect(onaction).toHaveBeenLastCalledWith('pin_question', items[0]);
    await fireEvent.click(within(host).getByTestId('chat-menu-button'));
    const names = within(screen.getByRole('menu'))
      .getAllByRole('menuitem')
      .map((b) => b.textContent?.trim());
    expect(names).toEqual(['Delete']);
  });

  it('the message menu works from the keyboard and Escape returns focus', async () => {
    const onaction = vi.fn();
    const items = rows(2);
    render(ChatList, { items, onaction });
    await settle();
    const button = within(screen.getAllByTestId('chat-message')[0]).getByTestId('chat-menu-button');
    button.focus();
    await fireEvent.keyDown(button, { key: 'ArrowDown' });
    await settle();
    const menu = screen.getByRole('menu');
    expect(document.activeElement).toHaveTextContent('Delete');
    await fireEvent.keyDown(menu, { key: 'ArrowDown' });
    expect(document.activeElement).toHaveTextContent('Timeout 1 min');
    await fireEvent.keyDown(menu, { key: 'ArrowUp' });
    await fireEvent.keyDown(menu, { key: 'ArrowUp' });
    expect(document.activeElement).toHaveTextContent('Ban');
    await fireEvent.keyDown(menu, { key: 'Escape' });
    expect(screen.queryByRole('menu')).toBeNull();
    expect(document.activeElement).toBe(button);
    expect(onaction).not.toHaveBeenCalled();
  });

  it('shows deleted messages struck with a label, gifts highlighted, and role badges', async () => {
    const items: ChatRow[] = [
      { id: 1, at: 0, user: 'spammer', role: 'viewer', text: 'buy followers', color: '#fff', deleted: true },
      { id: 2, at: 0, user: 'gone', role: 'viewer', text: '', color: '#fff', deleted: true },
      { id: 3, at: 0, user: '小红', role: 'viewer', text: '', color: '#fff', deleted: false, kind: 'gift', gift: 'rocket', count: 3 },
      { id: 4, at: 0, user: 'Kai', role: 'moderator', text: 'be nice', color: '#fff', deleted: false },
      { id: 5, at: 0, user: 'Ana', role: 'guest', text: 'hi all', color: '#fff', deleted: false },
      { id: 6, at: 0, user: 'me', role: 'host', text: '欢迎', color: '#fff', deleted: false },
    ];
    render(ChatList, { items, giftName: (g: string) => (g === 'rocket' ? 'Rocket' : g) });
    await settle();
    const r = screen.getAllByTestId('chat-message');
    expect(r[0]).toHaveClass('deleted');
    expect(r[0].querySelector('s')).toHaveTextContent('buy followers');
    expect(r[0]).toHaveTextContent('message deleted');
    expect(r[1]).toHaveTextContent('message deleted');
    expect(r[2]).toHaveClass('gift');
    expect(r[2]).toHaveTextContent('小红 sent Rocket ×3');
    expect(r[3].querySelector('.badge')).toHaveTextContent('Mod');
    expect(r[4].querySelector('.badge')).toHaveTextContent('Guest');
    expect(r[5].querySelector('.badge')).toHaveTextContent('Host');
    i18n.set('zh-CN');
    await settle();
    expect(r[3].querySelector('.badge')).toHaveTextContent('房管');
    expect(r[5].querySelector('.badge')).toHaveTextContent('主播');
  });

  it('sends from the compose box through onsend', async () => {
    const onsend = vi.fn();
    render(ChatList, { items: [], onsend });
    const input = screen.getByLabelText('Say something to the room…');
    await fireEvent.input(input, { target: { value: '  hello  ' } });
    await fireEvent.submit(input.closest('form')!);
    expect(onsend).toHaveBeenCalledWith('hello');
    expect(input).toHaveValue('');
  });
});

describe('ChatFeed', () => {
  it('batches pushes into one revision, trims the oldest beyond keep, and marks deletions', () => {
    const frames: (() => void)[] = [];
    const feed = new ChatFeed<ChatRow>(5, (fn) => frames.push(fn));
    feed.pushMany(rows(4));
    feed.push(rows(1, 5)[0]);
    feed.push(rows(1, 6)[0]);
    expect(frames).toHaveLength(1);
    frames.shift()!();
    expect(feed.items.map((r) => r.id)).toEqual([2, 3, 4, 5, 6]);
    expect(feed.received).toBe(6);
    expect(feed.update(4, { deleted: true })).toBe(true);
    expect(feed.update(1, { deleted: true })).toBe(false);
    frames.shift()!();
    expect(feed.items.find((r) => r.id === 4)?.deleted).toBe(true);
  });
});

describe('RowHeights', () => {
  it('keeps offsets from measured heights, finds rows by position, and drops from the front', () => {
    const h = new RowHeights(20, 2);
    h.setCount(5);
    expect(h.total()).toBe(100);
    expect(h.set(1, 50)).toBe(30);
    expect(h.top(2)).toBe(70);
    expect(h.total()).toBe(130);
    expect(h.indexAt(0)).toBe(0);
    expect(h.indexAt(69)).toBe(1);
    expect(h.indexAt(70)).toBe(2);
    expect(h.indexAt(10_000)).toBe(4);
    expect(visibleRange(h, 70, 40, 1)).toEqual([1, 5]);
    expect(h.dropFront(2)).toBe(70);
    expect(h.count).toBe(3);
    expect(h.total()).toBe(60);
    h.setCount(100_000);
    expect(h.total()).toBe(60 + 99_997 * 20);
  });
});
