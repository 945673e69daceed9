// Moderators are people: the chat menu appoints and removes them, the panel lists them, makes
// and revokes invite links and shows the moderation log; the store keeps it all in step with
// the room (through the mock, which answers the room_* commands as the app does).
import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { tick } from 'svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { i18n } from '../lib/i18n.svelte';
import { createMockBackend } from '../lib/mock';
import { Studio } from '../lib/studio.svelte';
import ChatList from './ChatList.svelte';
import ModeratorsPanel from './ModeratorsPanel.svelte';
import type { ChatRow } from './types';

const settle = async () => {
  for (let i = 0; i < 4; i++) await tick();
  await new Promise((r) => setTimeout(r, 0));
  for (let i = 0; i < 4; i++) await tick();
};

const row = (id: number, role: string, userId: string, user: string): ChatRow => ({ id, at: 0, user, role, text: `hi ${id}`, color: '#ffffff', deleted: false, userId });

async function menuNames(message: HTMLElement): Promise<string[]> {
  await fireEvent.click(within(message).getByTestId('chat-menu-button'));
  const names = within(screen.getByRole('menu'))
    .getAllByRole('menuitem')
    .map((b) => b.textContent?.trim() ?? '');
  await fireEvent.keyDown(screen.getByRole('menu'), { key: 'Escape' });
  return names;
}

beforeEach(() => {
  localStorage.clear();
  i18n.reset('en-US');
});

describe('ChatList: Make moderator / Remove moderator', () => {
  it('the host can make a viewer a moderator and remove an appointed one; never for the host', async () => {
    const onaction = vi.fn();
    const items = [row(1, 'viewer', 'v-ann', 'Ann'), row(2, 'moderator', 'v-bo', 'Bo'), row(3, 'host', 'host', 'Me')];
    render(ChatList, { items, onaction, canAppoint: true, moderators: new Set(['v-bo']) });
    await settle();
    const [ann, bo, host] = screen.getAllByTestId('chat-message');
    expect(await menuNames(ann)).toContain('Make moderator');
    expect(await menuNames(bo)).toContain('Remove moderator');
    expect(await menuNames(host)).toEqual(['Delete']);
    await fireEvent.click(within(ann).getByTestId('chat-menu-button'));
    await fireEvent.click(within(screen.getByRole('menu')).getByRole('menuitem', { name: 'Make moderator' }));
    expect(onaction).toHaveBeenLastCalledWith('appoint', items[0]);
    await fireEvent.click(within(bo).getByTestId('chat-menu-button'));
    await fireEvent.click(within(screen.getByRole('menu')).getByRole('menuitem', { name: 'Remove moderator' }));
    expect(onaction).toHaveBeenLastCalledWith('unappoint', items[1]);
  });

  it('a view that cannot appoint offers neither, and Chinese reads 设为房管', async () => {
    render(ChatList, { items: [row(1, 'viewer', 'v-ann', 'Ann')] });
    await settle();
    const [ann] = screen.getAllByTestId('chat-message');
    expect(await menuNames(ann)).not.toContain('Make moderator');
    i18n.set('zh-CN');
    document.body.innerHTML = '';
    render(ChatList, { items: [row(1, 'viewer', 'v-ann', 'Ann')], canAppoint: true });
    await settle();
    expect(await menuNames(screen.getAllByTestId('chat-message')[0])).toContain('设为房管');
  });
});

describe('ModeratorsPanel', () => {
  it('lists moderators, removes one, makes and revokes invites, and shows the log newest first', async () => {
    const onremove = vi.fn();
    const oninvite = vi.fn();
    const onrevoke = vi.fn();
    const onrefresh = vi.fn();
    const log = [
      { at: 1_000, actor: 'host', action: 'appoint', target: 'v-ann', detail: '' },
      { at: 2_000, actor: 'v-ann', action: 'timeout', target: 'v-troll', detail: '600s' },
    ];
    const names: Record<string, string> = { host: 'Me', 'v-ann': 'Ann', 'v-troll': 'Troll' };
    render(ModeratorsPanel, {
      moderators: [{ id: 'v-ann', name: 'Ann' }],
      invites: ['0123456789abcdef0123456789abcdef'],
      inviteLink: 'http://192.168.1.5:7717/room/main#mod=0123456789abcdef0123456789abcdef',
      log,
      nameOf: (id: string) => names[id] ?? id,
      onremove,
      oninvite,
      onrevoke,
      onrefresh,
    });
    expect(onrefresh).toHaveBeenCalledTimes(1);
    expect(screen.getByTestId('mods-list')).toHaveTextContent('Ann');
    await fireEvent.click(screen.getByTestId('mod-remove'));
    expect(onremove).toHaveBeenCalledWith('v-ann');
    await fireEvent.click(screen.getByTestId('mod-invite'));
    expect(oninvite).toHaveBeenCalled();
    expect(screen.getByTestId('mod-invite-link')).toHaveValue('http://192.168.1.5:7717/room/main#mod=0123456789abcdef0123456789abcdef');
    await fireEvent.click(screen.getByTestId('mod-revoke'));
    expect(onrevoke).toHaveBeenCalledWith('0123456789abcdef0123456789abcdef');
    const entries = within(screen.getByTestId('modlog')).getAllByRole('listitem');
    expect(entries.map((e) => e.dataset.action)).toEqual(['timeout', 'appoint']);
    expect(entries[0]).toHaveTextContent('Ann timed out Troll (600s)');
    expect(entries[1]).toHaveTextContent('Me made moderator Ann');
  });

  it('says how to get moderators when there are none', () => {
    render(ModeratorsPanel, {});
    expect(screen.getByTestId('mods-empty')).toHaveTextContent('chat message');
  });
});

describe('RoomStore: moderators', () => {
  it('appoints from the chat menu, makes an invite link from the viewer link, and fetches the log after moderation', async () => {
    const b = createMockBackend();
    const s = new Studio(b);
    await s.init();
    s.room.ready({ room: 'main', viewer_url: 'http://192.168.1.5:7717/room/main', ws_url: 'ws://192.168.1.5:7717/room/main/ws', home: 'local_network', firewall: null });
    const item = { id: 3, userId: 'v1', user: 'Ava', text: 'hi' };
    await s.room.chatAction('appoint', item);
    expect(b.calls.find((c) => c.cmd === 'room_appoint')?.args).toEqual({ user: 'v1' });
    expect(s.room.moderators).toEqual([{ id: 'v1', name: 'Ava' }]);
    expect(s.room.moderatorIds.has('v1')).toBe(true);
    expect(s.app.notice).toBe('Ava is now a moderator');
    await s.room.mintInvite();
    expect(s.room.inviteLink).toMatch(/^http:\/\/192\.168\.1\.5:7717\/room\/main#mod=[0-9a-f]{32}$/);
    expect(s.room.invites).toHaveLength(1);
    await s.room.revokeInvite(s.room.invites[0]);
    expect(s.room.invites).toEqual([]);
    expect(s.room.inviteLink).toBeNull();
    await s.room.chatAction('timeout_600', { id: 4, userId: 'v2', user: 'Troll', text: 'spam' });
    await vi.waitFor(() => expect(s.room.modlog.map((e) => e.action)).toEqual(['appoint', 'timeout']));
    await s.room.chatAction('unappoint', item);
    expect(s.room.moderators).toEqual([]);
    expect(b.calls.some((c) => c.cmd === 'room_unappoint')).toBe(true);
  });
});
