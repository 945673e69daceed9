import { fireEvent, render, screen } from '@testing-library/svelte';
import { tick } from 'svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { RoomHomeSetting } from '../bindings';
import { i18n } from '../lib/i18n.svelte';
import RoomHomeSettings, { validateRoomHome } from './RoomHomeSettings.svelte';

const settle = async () => {
  for (let i = 0; i < 4; i++) await tick();
  await new Promise((r) => setTimeout(r, 0));
};

const home = (patch: Partial<RoomHomeSetting> = {}): RoomHomeSetting => ({
  mode: 'this_computer',
  lan_address: null,
  port: null,
  hosted_url: '',
  hosted_room: '',
  ca_file: null,
  ...patch,
});

const interfaces = [
  { name: 'wlan0', address: '192.168.1.20', default_route: true },
  { name: 'eth0', address: '10.0.0.5', default_route: false },
];

/** The last value reported through `onchange`, and whether it could be saved. */
const last = (f: ReturnType<typeof vi.fn>) => f.mock.calls.at(-1) as [RoomHomeSetting, boolean];

beforeEach(() => i18n.reset('en-US'));

describe('RoomHomeSettings', () => {
  it('validates the hosted address, the room name and a fixed port', () => {
    expect(validateRoomHome(home())).toEqual({});
    expect(validateRoomHome(home({ mode: 'local_network', port: 80 }))).toEqual({ port: 'settings.home.badPort' });
    expect(validateRoomHome(home({ mode: 'hosted', hosted_url: 'live.example.com', hosted_room: 'a b' }))).toEqual({
      url: 'settings.home.badUrl',
      room: 'settings.home.badRoom',
    });
    expect(validateRoomHome(home({ mode: 'hosted', hosted_url: 'https://live.example.com', hosted_room: 'premiere' }))).toEqual({});
  });

  it('local network: lists the interfaces, the default route first, and reports the chosen one and a fixed port', async () => {
    const onchange = vi.fn();
    render(RoomHomeSettings, { value: home(), interfaces, onchange });
    await fireEvent.click(screen.getByRole('radio', { name: /Local network/ }));
    const select = screen.getByTestId('home-interface') as HTMLSelectElement;
    expect([...select.options].map((o) => o.textContent)).toEqual(['wlan0 · 192.168.1.20 (default)', 'eth0 · 10.0.0.5']);
    // A hosted room is named `main` unless told otherwise.
    expect(last(onchange)).toEqual([home({ mode: 'local_network', hosted_room: 'main' }), true]);
    await fireEvent.change(select, { target: { value: '10.0.0.5' } });
    await fireEvent.input(screen.getByTestId('home-port'), { target: { value: '8800' } });
    await settle();
    expect(last(onchange)).toEqual([home({ mode: 'local_network', lan_address: '10.0.0.5', port: 8800, hosted_room: 'main' }), true]);
    await fireEvent.input(screen.getByTestId('home-port'), { target: { value: '80' } });
    await settle();
    expect(last(onchange)[1]).toBe(false);
    expect(screen.getByText('Use a port from 1024 to 65535, or leave it empty.')).toBeInTheDocument();
  });

  it('says when the firewall may block the room, with the command that allows the port', () => {
    render(RoomHomeSettings, {
      value: home({ mode: 'local_network' }),
      interfaces,
      firewall: { kind: 'may_block', by: 'ufw', allow: 'sudo ufw allow 7717/tcp' },
    });
    const warn = screen.getByTestId('home-firewall');
    expect(warn).toHaveTextContent('The firewall (ufw) may block viewers');
    expect(warn.querySelector('code')).toHaveTextContent('sudo ufw allow 7717/tcp');
  });

  it('hosted: the host key goes to onsavekey and is cleared, never into the value', async () => {
    const onchange = vi.fn();
    const onsavekey = vi.fn();
    render(RoomHomeSettings, { value: home(), onchange, onsavekey });
    await fireEvent.click(screen.getByRole('radio', { name: /Hosted/ }));
    await fireEvent.input(screen.getByTestId('home-url'), { target: { value: 'https://live.example.com/' } });
    await fireEvent.input(screen.getByTestId('home-room'), { target: { value: 'premiere' } });
    await fireEvent.input(screen.getByTestId('home-ca'), { target: { value: '/etc/ssl/ca.pem' } });
    const key = screen.getByTestId('home-key') as HTMLInputElement;
    expect(key.type).toBe('password');
    expect(screen.getByTestId('home-key-state')).toHaveTextContent('No host key stored yet.');
    await fireEvent.input(key, { target: { value: 'mq1.secret' } });
    await fireEvent.click(screen.getByTestId('home-key-save'));
    await settle();
    expect(onsavekey).toHaveBeenCalledWith('mq1.secret');
    expect(key.value).toBe('');
    expect(screen.getByTestId('home-key-state')).toHaveTextContent('A host key is stored in the keychain.');
    const [v, ok] = last(onchange);
    expect(ok).toBe(true);
    expect(v).toEqual(home({ mode: 'hosted', hosted_url: 'https://live.example.com/', hosted_room: 'premiere', ca_file: '/etc/ssl/ca.pem' }));
    expect(JSON.stringify(onchange.mock.calls)).not.toContain('mq1.secret');
  });

  it('says why a host key was refused, in Chinese too', async () => {
    i18n.set('zh-CN');
    const onsavekey = vi.fn().mockRejectedValue({ code: 'settings', message: 'that is not a host key' });
    render(RoomHomeSettings, { value: home({ mode: 'hosted', hosted_url: 'https://h', hosted_room: 'r' }), onsavekey });
    expect(screen.getByRole('radio', { name: /云端服务器/ })).toHaveAttribute('aria-checked', 'true');
    await fireEvent.input(screen.getByTestId('home-key'), { target: { value: 'nope' } });
    await fireEvent.click(screen.getByTestId('home-key-save'));
    await settle();
    expect(screen.getByTestId('home-key-state')).toHaveTextContent('that is not a host key');
  });
});
