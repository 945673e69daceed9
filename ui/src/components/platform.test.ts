import { fireEvent, screen, waitFor, within } from '@testing-library/svelte';
import { beforeEach, describe, expect, it } from 'vitest';
import { i18n } from '../lib/i18n.svelte';
import { flush, goLiveRecording, renderApp } from './test-app';


beforeEach(() => {
  localStorage.clear();
  i18n.reset('en-US');
});

/** The app on the mock, its Settings open at Chat sources. */
async function openChatSources() {
  const b = await renderApp();
  await fireEvent.click(screen.getByTestId('open-settings'));
  await fireEvent.click(screen.getByRole('tab', { name: /Chat sources/ }));
  return b;
}


describe('platform chat', () => {
  it('Settings → Chat sources: a bad id is refused with the rule, good ones are saved and go live', async () => {
    const b = await openChatSources();
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
    await goLiveRecording();
    await flush();
    expect(b.settings?.chat).toEqual(['twitch:some_channel', 'bilibili:21452505']);
  });

  it('Settings → Chat sources: bilibili through the open platform takes an app id, and its key pair and 身份码 go to the keychain only', async () => {
    const b = await openChatSources();
    await fireEvent.click(screen.getByTestId('chat-source-add'));
    await fireEvent.change(within(screen.getAllByTestId('chat-source-row')[0]).getByTestId('chat-source-platform'), { target: { value: 'bilibili-open' } });
    expect(screen.getAllByTestId('chat-source-row')[0]).toHaveTextContent('App ID');
    await fireEvent.input(within(screen.getAllByTestId('chat-source-row')[0]).getByTestId('chat-source-target'), { target: { value: '1650000000001' } });
    await fireEvent.input(screen.getByTestId('bili-open-key-id'), { target: { value: 'AKID-e2e' } });
    await fireEvent.input(screen.getByTestId('bili-open-key-secret'), { target: { value: 'secret-e2e' } });
    await fireEvent.input(screen.getByTestId('bili-open-code'), { target: { value: 'CODE-e2e' } });
    await fireEvent.click(screen.getByTestId('settings-save'));
    await flush();
    expect(b.saved.chat_sources).toEqual(['bilibili-open:1650000000001']);
    const stored = b.calls.filter((c) => c.cmd === 'set_stream_key').map((c) => (c.args as { name: string }).name);
    expect(stored).toEqual(['bilibili-open-1650000000001-key-id', 'bilibili-open-1650000000001-key-secret', 'bilibili-open-1650000000001-code']);
    expect(JSON.stringify(b.saved)).not.toMatch(/AKID-e2e|secret-e2e|CODE-e2e/);
  });

  it('platform lines are labelled in the chat panel, paid ones highlighted, each source shows its state, and Hide here hides locally', async () => {
    const b = await renderApp();
    await goLiveRecording();
    await flush();
    b.emit('chat_source', { source: 'twitch:xyz', state: 'live', attempt: null, reason: null, note_code: null, note: null });
    b.emit('chat_source', { source: 'bilibili:1', state: 'failed', attempt: null, reason: 'bilibili: the room does not exist', note_code: null, note: null });
    b.emit('chat_source', { source: 'bilibili:2', state: 'live', attempt: null, reason: null, note_code: 'bilibili_anonymous', note: 'bilibili refused the danmaku token for room 2 (-352)' });
    b.emit('platform_chat', {
      lines: [
        { source: 'twitch:xyz', platform: 'twitch', user: 'abc', text: 'HeyGuys', gift: false, message_id: 'eb24e920', user_id: '713936733' },
        { source: 'bilibili:1', platform: 'bilibili', user: '张三', text: '辣条 ×3', gift: true, message_id: null, user_id: '23624052' },
      ],
      dropped: 7,
      removed: [],
    });
    await flush();
    await waitFor(() => expect(screen.getAllByTestId('chat-platform')).toHaveLength(2));
    const rows = screen.getAllByTestId('chat-message');
    expect(rows.at(-2)).toHaveTextContent('Twitch abc HeyGuys');
    expect(rows.at(-1)).toHaveClass('gift');
    const sources = screen.getAllByTestId('chat-source');
    expect(sources.map((s) => s.dataset.state)).toEqual(['live', 'failed', 'live']);
    expect(sources[1]).toHaveTextContent('the room does not exist');
    // A source that settled for less says how it reads, with the platform's reason beside.
    const note = within(sources[2]).getByTestId('chat-source-note');
    expect(note).toHaveTextContent('read anonymously: bilibili refused its token');
    expect(note).toHaveAttribute('title', expect.stringContaining('-352'));
    expect(within(sources[0]).queryByTestId('chat-source-note')).toBeNull();
    expect(screen.getByTestId('chat-dropped')).toHaveTextContent('7 platform messages left out');
    const row = screen.getAllByTestId('chat-message').at(-2)!;
    await fireEvent.click(within(row).getByRole('button', { name: /Message actions/ }));
    await fireEvent.click(screen.getByRole('menuitem', { name: 'Hide here' }));
    await flush();
    await waitFor(() => expect(screen.getAllByTestId('chat-message').at(-2)).toHaveClass('deleted'));
    expect(b.calls.some((c) => c.cmd === 'room_moderate')).toBe(false);
  });

  it('Twitch: logging in from Settings → Chat sources shows the code, then the menu deletes on Twitch; YouTube lines offer the same actions, sent to YouTube; without a login, or on bilibili, the message is hidden here with the reason', async () => {
    const b = await openChatSources();
    const login = screen.getByTestId('twitch-login-start') as HTMLButtonElement;
    expect(login.disabled).toBe(true);
    await fireEvent.input(screen.getByTestId('twitch-client-id'), { target: { value: ' abc123 ' } });
    await fireEvent.click(login);
    await waitFor(() => expect(screen.getByTestId('twitch-code')).toHaveAttribute('data-code', 'ABCDEFGH'));
    expect(screen.getByTestId('twitch-uri')).toHaveTextContent('https://www.twitch.tv/activate');
    await waitFor(() => expect(screen.getByTestId('twitch-logged-in')).toBeInTheDocument());
    expect(b.calls.find((c) => c.cmd === 'platform_login')?.args).toEqual({ platform: 'twitch', clientId: 'abc123', clientSecret: '' });
    await fireEvent.click(screen.getByTestId('settings-save'));
    await flush();
    expect(b.saved.twitch_client_id).toBe('abc123');

    await goLiveRecording();
    await flush();
    b.emit('platform_chat', {
      lines: [
        { source: 'twitch:xyz', platform: 'twitch', user: 'abc', text: 'HeyGuys', gift: false, message_id: 'eb24e920', user_id: '713936733' },
        { source: 'bilibili:1', platform: 'bilibili', user: '张三', text: '你好', gift: false, message_id: null, user_id: '23624052' },
        { source: 'youtube:dQw4w9WgXcQ', platform: 'youtube', user: 'Viewer', text: 'first!', gift: false, message_id: 'LCC.abc', user_id: 'UCviewer' },
      ],
      dropped: 0,
      removed: [],
    });
    await flush();
    const menu = async (text: string, item: string) => {
      const row = await waitFor(() => {
        const r = screen.getAllByTestId('chat-message').find((r) => r.textContent?.includes(text));
        if (!r) throw new Error(`no row with ${text}: ${screen.getAllByTestId('chat-message').map((r) => r.textContent).join(' | ')}`);
        return r;
      });
      await fireEvent.click(within(row).getByRole('button', { name: /Message actions/ }));
      await fireEvent.click(screen.getByRole('menuitem', { name: item }));
      await flush();
      return row;
    };
    // bilibili offers only Hide here.
    const bili = screen.getAllByTestId('chat-message').find((r) => r.textContent?.includes('你好'))!;
    await fireEvent.click(within(bili).getByRole('button', { name: /Message actions/ }));
    expect(screen.getAllByRole('menuitem').map((m) => m.textContent?.trim())).toEqual(['Hide here']);
    await fireEvent.keyDown(document.activeElement!, { key: 'Escape' });

    // YouTube's are moderated on YouTube (the app's login is the CLI's): without one, hidden here with the reason.
    const yt = screen.getAllByTestId('chat-message').find((r) => r.textContent?.includes('first!'))!;
    await fireEvent.click(within(yt).getByRole('button', { name: /Message actions/ }));
    expect(screen.getAllByRole('menuitem').map((m) => m.textContent?.trim())).toEqual(['Delete', 'Timeout 10 min', 'Ban', 'Hide here']);
    await fireEvent.keyDown(document.activeElement!, { key: 'Escape' });
    await menu('first!', 'Delete');
    expect(b.calls.find((c) => c.cmd === 'platform_moderate')?.args).toEqual({ action: 'delete', source: 'youtube:dQw4w9WgXcQ', message_id: 'LCC.abc' });
    await waitFor(() => expect(screen.getByRole('status')).toHaveTextContent('Hidden in your chat panel only — YouTube: not logged in to moderate'));
    b.calls.length = 0;

    await menu('HeyGuys', 'Delete');
    expect(b.calls.find((c) => c.cmd === 'platform_moderate')?.args).toEqual({ action: 'delete', source: 'twitch:xyz', message_id: 'eb24e920' });
    await waitFor(() => expect(screen.getByRole('status')).toHaveTextContent('Deleted on Twitch'));

    // Logged out: the action is refused with the reason and the message hidden here.
    await b.platformLogout('twitch');
    b.emit('platform_chat', { lines: [{ source: 'twitch:xyz', platform: 'twitch', user: 'spam', text: 'buy followers', gift: false, message_id: 'm2', user_id: '9876' }], dropped: 0, removed: [] });
    await flush();
    await menu('buy followers', 'Ban');
    await waitFor(() => expect(screen.getByRole('status')).toHaveTextContent('Hidden in your chat panel only — Twitch: not logged in to moderate'));
    await waitFor(() => expect(screen.getAllByTestId('chat-message').some((r) => r.textContent?.includes('buy followers'))).toBe(false));
  });

  it('YouTube: logging in from Settings → Chat sources takes the client ID and its secret (the secret never saved with the settings), shows Google\'s code, then Delete goes to YouTube', async () => {
    const b = await openChatSources();
    const login = screen.getByTestId('youtube-login-start') as HTMLButtonElement;
    await fireEvent.input(screen.getByTestId('youtube-client-id'), { target: { value: ' 1234-abc.apps.googleusercontent.com ' } });
    expect(login.disabled).toBe(true);
    const secret = screen.getByTestId('youtube-client-secret') as HTMLInputElement;
    expect(secret.type).toBe('password');
    await fireEvent.input(secret, { target: { value: 'GOCSPX-s3cr3t' } });
    expect(login.disabled).toBe(false);
    await fireEvent.click(login);
    await waitFor(() => expect(screen.getByTestId('youtube-code')).toHaveAttribute('data-code', 'GQVQ-JKEC'));
    expect(screen.getByTestId('youtube-uri')).toHaveTextContent('https://www.google.com/device');
    await waitFor(() => expect(screen.getByTestId('youtube-logged-in')).toHaveTextContent('go to YouTube'));
    expect(b.calls.find((c) => c.cmd === 'platform_login')?.args).toEqual({ platform: 'youtube', clientId: '1234-abc.apps.googleusercontent.com', clientSecret: 'GOCSPX-s3cr3t' });
    // Twitch's login is its own.
    expect(screen.getByTestId('twitch-login')).toHaveAttribute('data-logged-in', 'false');
    await fireEvent.click(screen.getByTestId('settings-save'));
    await flush();
    expect(b.saved.youtube_client_id).toBe('1234-abc.apps.googleusercontent.com');
    expect(JSON.stringify(b.saved)).not.toContain('GOCSPX');

    await goLiveRecording();
    await flush();
    b.emit('platform_chat', {
      lines: [{ source: 'youtube:dQw4w9WgXcQ', platform: 'youtube', user: 'Viewer', text: 'first!', gift: false, message_id: 'LCC.abc', user_id: 'UCviewer' }],
      dropped: 0,
      removed: [],
    });
    await flush();
    const row = await waitFor(() => screen.getAllByTestId('chat-message').find((r) => r.textContent?.includes('first!'))!);
    await fireEvent.click(within(row).getByRole('button', { name: /Message actions/ }));
    await fireEvent.click(screen.getByRole('menuitem', { name: 'Delete' }));
    await flush();
    expect(b.calls.find((c) => c.cmd === 'platform_moderate')?.args).toEqual({ action: 'delete', source: 'youtube:dQw4w9WgXcQ', message_id: 'LCC.abc' });
    await waitFor(() => expect(screen.getByRole('status')).toHaveTextContent('Deleted on YouTube'));

    // Logged out from Settings: the login is gone, the button is back.
    await fireEvent.click(screen.getByTestId('open-settings'));
    await fireEvent.click(screen.getByRole('tab', { name: /Chat sources/ }));
    await fireEvent.click(screen.getByTestId('youtube-logout'));
    await flush();
    expect(b.calls.some((c) => c.cmd === 'platform_logout' && (c.args as { platform: string }).platform === 'youtube')).toBe(true);
    expect(await b.platformLoggedIn('youtube')).toBe(false);
    await waitFor(() => expect(screen.getByTestId('youtube-login-start')).toBeInTheDocument());
  });

  it('a deletion, a ban or a cleared chat made on the platform strikes those lines here too', async () => {
    const b = await renderApp();
    await goLiveRecording();
    await flush();
    const line = (user: string, text: string, message_id: string, user_id: string, source = 'twitch:xyz') => ({ source, platform: source.split(':')[0], user, text, gift: false, message_id, user_id });
    b.emit('platform_chat', {
      lines: [line('a', 'first line', 'm1', 'u1'), line('b', 'spam one', 'm2', 'u2'), line('b', 'spam two', 'm3', 'u2'), line('c', 'kept', 'm4', 'u3'), line('d', 'elsewhere', 'x1', 'u2', 'bilibili:5')],
      dropped: 0,
      removed: [],
    });
    await flush();
    const texts = () => screen.getAllByTestId('chat-message').map((r) => r.textContent ?? '');
    await waitFor(() => expect(texts().some((t) => t.includes('spam two'))).toBe(true));
    b.emit('platform_chat', {
      lines: [],
      dropped: 0,
      removed: [
        { source: 'twitch:xyz', message_id: 'm1', user_id: null },
        { source: 'twitch:xyz', message_id: null, user_id: 'u2' },
      ],
    });
    await waitFor(() => expect(texts().some((t) => t.includes('spam'))).toBe(false));
    expect(texts().some((t) => t.includes('first line'))).toBe(false);
    // The same user id on another source is someone else.
    expect(texts().some((t) => t.includes('kept'))).toBe(true);
    expect(texts().some((t) => t.includes('elsewhere'))).toBe(true);
    b.emit('platform_chat', { lines: [], dropped: 0, removed: [{ source: 'bilibili:5', message_id: null, user_id: null }] });
    await waitFor(() => expect(texts().some((t) => t.includes('elsewhere'))).toBe(false));
    expect(texts().some((t) => t.includes('kept'))).toBe(true);
  });
});
