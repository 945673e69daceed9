import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { tick } from 'svelte';
import { beforeEach, describe, expect, it } from 'vitest';
import App from '../App.svelte';
import { i18n } from '../lib/i18n.svelte';
import { createMockBackend } from '../lib/mock';

const flush = async () => {
  for (let i = 0; i < 5; i++) await tick();
  await new Promise((r) => setTimeout(r, 0));
};

beforeEach(() => {
  localStorage.clear();
  i18n.reset('en-US');
});

describe('platform chat', () => {
  it('Settings → Chat sources: a bad id is refused with the rule, good ones are saved and go live', async () => {
    const b = createMockBackend();
    render(App, { backend: b });
    await flush();
    await fireEvent.click(screen.getByTestId('open-settings'));
    await fireEvent.click(screen.getByRole('tab', { name: /Chat sources/ }));
    await fireEvent.click(screen.getByTestId('chat-source-add'));
    await fireEvent.click(screen.getByTestId('chat-source-add'));
    const rows = screen.getAllByTestId('chat-source-row');
    await fireEvent.input(within(rows[0]).getByTestId('chat-source-target'), { target: { value: 'some_channel' } });
    await fireEvent.change(within(rows[1]).getByTestId('chat-source-platform'), { target: { value: 'bilibili' } });
    await fireEvent.input(within(screen.getAllByTestId('chat-source-row')[1]).getByTestId('chat-source-target'), { target: { value: 'abc' } });
    await fireEvent.click(screen.getByTestId('settings-save'));
    await flush();
    expect(screen.getByTestId('settings')).toHaveTextContent('A bilibili room is a number');
    await fireEvent.input(within(screen.getAllByTestId('chat-source-row')[1]).getByTestId('chat-source-target'), { target: { value: '21452505' } });
    await fireEvent.click(screen.getByTestId('settings-save'));
    await flush();
    expect(b.saved.chat_sources).toEqual(['twitch:some_channel', 'bilibili:21452505']);
    await fireEvent.click(screen.getByRole('button', { name: 'Record' }));
    await fireEvent.click(screen.getByTestId('go-live'));
    await flush();
    expect(b.settings?.chat).toEqual(['twitch:some_channel', 'bilibili:21452505']);
  });

  it('platform lines are labelled in the chat panel, paid ones highlighted, each source shows its state, and Hide here hides locally', async () => {
    const b = createMockBackend();
    render(App, { backend: b });
    await flush();
    await fireEvent.click(screen.getByRole('button', { name: 'Record' }));
    await fireEvent.click(screen.getByTestId('go-live'));
    await flush();
    b.emit('chat_source', { source: 'twitch:xyz', state: 'live', attempt: null, reason: null });
    b.emit('chat_source', { source: 'bilibili:1', state: 'failed', attempt: null, reason: 'bilibili: the room does not exist' });
    b.emit('platform_chat', {
      lines: [
        { source: 'twitch:xyz', platform: 'twitch', user: 'abc', text: 'HeyGuys', gift: false },
        { source: 'bilibili:1', platform: 'bilibili', user: '张三', text: '辣条 ×3', gift: true },
      ],
      dropped: 7,
    });
    await flush();
    await waitFor(() => expect(screen.getAllByTestId('chat-platform')).toHaveLength(2));
    const rows = screen.getAllByTestId('chat-message');
    expect(rows.at(-2)).toHaveTextContent('Twitch abc HeyGuys');
    expect(rows.at(-1)).toHaveClass('gift');
    const sources = screen.getAllByTestId('chat-source');
    expect(sources.map((s) => s.dataset.state)).toEqual(['live', 'failed']);
    expect(sources[1]).toHaveTextContent('the room does not exist');
    expect(screen.getByTestId('chat-dropped')).toHaveTextContent('7 platform messages left out');
    const row = screen.getAllByTestId('chat-message').at(-2)!;
    await fireEvent.click(within(row).getByRole('button', { name: /Message actions/ }));
    await fireEvent.click(screen.getByRole('menuitem', { name: 'Hide here' }));
    await flush();
    await waitFor(() => expect(screen.getAllByTestId('chat-message').at(-2)).toHaveClass('deleted'));
    expect(b.calls.some((c) => c.cmd === 'room_moderate')).toBe(false);
  });
});
