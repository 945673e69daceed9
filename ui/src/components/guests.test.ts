import { fireEvent, screen, waitFor, within } from '@testing-library/svelte';
import { beforeEach, describe, expect, it } from 'vitest';
import { i18n } from '../lib/i18n.svelte';
import { mockGuest } from '../lib/mock';
import { flush, goLiveRecording, renderApp } from './test-app';


beforeEach(() => {
  localStorage.clear();
  i18n.reset('en-US');
});

async function liveWithGuests(slots: number) {
  const b = await renderApp({ settings: { guests: { slots, green_room: true, layout: 'auto', view: 'program' } } });
  await goLiveRecording();
  await waitFor(() => expect(screen.getByTestId('guests')).toBeInTheDocument());
  return b;
}

describe('GuestsPanel', () => {
  it('is not there for a show without guest slots', async () => {
    const b = await renderApp();
    await goLiveRecording();
    expect(b.settings?.guests.slots).toBe(0);
    expect(screen.queryByTestId('guests')).toBeNull();
  });

  it('with the room on this computer only, the link of a slot says it works nowhere else and offers no QR code', async () => {
    await liveWithGuests(1);
    const slot = screen.getByTestId('guest-slot-1');
    expect(within(slot).getByTestId('guest-1-link').textContent).toMatch(/\/join\//);
    expect(within(slot).queryByTestId('guest-1-qr')).toBeNull();
    expect(within(slot).getByTestId('guest-local-only')).toHaveTextContent('works here');
  });

  it('each free slot shows its invite link with a QR code; New link replaces it', async () => {
    const b = await liveWithGuests(2);
    // A room on the local network: its links reach other machines.
    b.emit('room_ready', { room: 'main', viewer_url: 'http://192.168.1.20:7717/room/main', ws_url: 'ws://192.168.1.20:7717/room/main/ws', home: 'local_network', firewall: null });
    await flush();
    expect(b.settings?.guests).toEqual({ slots: 2, green_room: true, layout: 'auto', view: 'program' });
    const slot1 = screen.getByTestId('guest-slot-1');
    expect(slot1.dataset.state).toBe('free');
    const link = within(slot1).getByTestId('guest-1-link').textContent ?? '';
    expect(link).toMatch(/\/room\/main\/join\/mockInvite1$/);
    expect(within(slot1).getByTestId('guest-1-qr')).toHaveAttribute('aria-label', link);
    expect(screen.getByTestId('guest-slot-2')).toBeInTheDocument();
    await fireEvent.click(within(slot1).getByTestId('guest-new-link-1'));
    await flush();
    await waitFor(() => expect(within(screen.getByTestId('guest-slot-1')).getByTestId('guest-1-link').textContent).not.toBe(link));
    expect(b.calls).toContainEqual({ cmd: 'guest_new_link', args: { slot: 1 } });
  });

  it('a guest in the green room shows a thumbnail, a meter and is admitted with A; then mute, hide, volume and remove', async () => {
    const b = await liveWithGuests(1);
    b.guestsView.guests.push(mockGuest(7, 1, 'Ada', { level_db: -12 }));
    await waitFor(() => expect(screen.getByTestId('guest-slot-1').dataset.state).toBe('waiting'), { timeout: 3000 });
    const slot = screen.getByTestId('guest-slot-1');
    expect(within(slot).getByTestId('guest-name')).toHaveTextContent('Ada');
    expect(within(slot).getByTestId('guest-meter')).toHaveAttribute('aria-valuenow', '-12');
    expect(within(slot).getByTestId('guest-quality')).toHaveTextContent('RTT 38 ms · loss 0.4% (3 resends asked/s) · 1450 kbit/s · into the program ≈31 ms');
    expect(screen.getByTestId('guests-waiting')).toHaveTextContent('1 waiting');
    await waitFor(() => expect(within(screen.getByTestId('guest-slot-1')).getByTestId('guest-thumb')).toHaveAttribute('src', expect.stringMatching(/^blob:/)), { timeout: 3000 });

    await fireEvent.keyDown(window, { key: 'a' });
    await flush();
    await waitFor(() => expect(screen.getByTestId('guest-slot-1').dataset.state).toBe('on_air'));
    expect(b.calls).toContainEqual({ cmd: 'guest_admit', args: { session: 7 } });

    await fireEvent.click(screen.getByTestId('guest-mute'));
    await flush();
    await waitFor(() => expect(screen.getByTestId('guest-mute')).toHaveAttribute('aria-pressed', 'true'));
    expect(screen.getByTestId('guest-mute')).toHaveTextContent('Unmute');
    await fireEvent.click(screen.getByTestId('guest-hide'));
    await flush();
    expect(b.calls).toContainEqual({ cmd: 'guest_hide', args: { session: 7, hidden: true } });
    const vol = screen.getByTestId('guest-volume') as HTMLInputElement;
    await fireEvent.change(vol, { target: { value: '-6' } });
    await flush();
    expect(b.calls).toContainEqual({ cmd: 'guest_volume', args: { session: 7, db: -6 } });

    await fireEvent.click(screen.getByTestId('guest-remove'));
    await flush();
    await waitFor(() => expect(screen.getByTestId('guest-slot-1').dataset.state).toBe('free'));
  });

  it('the layout is picked while live and the choice is what the show lays out', async () => {
    const b = await liveWithGuests(2);
    expect(screen.getByTestId('guest-layout-auto')).toHaveAttribute('aria-checked', 'true');
    await fireEvent.click(screen.getByTestId('guest-layout-pip'));
    await flush();
    await waitFor(() => expect(screen.getByTestId('guest-layout-pip')).toHaveAttribute('aria-checked', 'true'));
    expect(b.calls).toContainEqual({ cmd: 'guest_layout', args: { layout: 'pip' } });
  });

  it('what the guests see is switched while live: the show or my camera', async () => {
    const b = await liveWithGuests(1);
    expect(screen.getByTestId('guest-view-program')).toHaveAttribute('aria-checked', 'true');
    await fireEvent.click(screen.getByTestId('guest-view-camera'));
    await flush();
    await waitFor(() => expect(screen.getByTestId('guest-view-camera')).toHaveAttribute('aria-checked', 'true'));
    expect(b.calls).toContainEqual({ cmd: 'guest_view', args: { view: 'camera' } });
    await fireEvent.change(screen.getByLabelText('Language'), { target: { value: 'zh-CN' } });
    expect(screen.getByTestId('guest-view-camera')).toHaveTextContent('我的摄像头');
  });

  it('speaks 简体中文', async () => {
    const b = await liveWithGuests(1);
    await fireEvent.change(screen.getByLabelText('Language'), { target: { value: 'zh-CN' } });
    b.guestsView.guests.push(mockGuest(3, 1, '小雨'));
    await waitFor(() => expect(screen.getByTestId('guest-admit')).toHaveTextContent('同意上麦（A）'), { timeout: 3000 });
    expect(screen.getByTestId('guests')).toHaveTextContent('连麦嘉宾');
  });

  it('Settings → Co-stream: slots, green room, layout and what guests see are remembered and used for the next Go Live', async () => {
    const b = await renderApp();
    await fireEvent.click(screen.getByTestId('open-settings'));
    await fireEvent.click(screen.getByRole('tab', { name: /Co-stream/ }));
    await fireEvent.change(screen.getByTestId('guest-slots'), { target: { value: '2' } });
    await fireEvent.click(screen.getByTestId('guest-green-room'));
    await fireEvent.change(screen.getByTestId('guest-layout-default'), { target: { value: 'grid' } });
    await fireEvent.change(screen.getByTestId('guest-view-default'), { target: { value: 'camera' } });
    await fireEvent.click(screen.getByTestId('settings-save'));
    await flush();
    expect(b.saved.guests).toEqual({ slots: 2, green_room: false, layout: 'grid', view: 'camera' });
    await goLiveRecording();
    expect(b.settings?.guests).toEqual({ slots: 2, green_room: false, layout: 'grid', view: 'camera' });
    await waitFor(() => expect(screen.getAllByTestId(/^guest-slot-/)).toHaveLength(2));
  });
});
