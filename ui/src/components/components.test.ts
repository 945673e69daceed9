import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { tick } from 'svelte';
import { beforeEach, describe, expect, it } from 'vitest';
import App from '../App.svelte';
import { i18n } from '../lib/i18n.svelte';
import { createMockBackend, mockStats } from '../lib/mock';
import { Studio } from '../lib/studio.svelte';
import AudioMeter from './AudioMeter.svelte';
import Destinations from './Destinations.svelte';
import RoomPanel from './RoomPanel.svelte';
import SceneBar from './SceneBar.svelte';
import Sparkline from './Sparkline.svelte';
import StatsPanel from './StatsPanel.svelte';
import TopBar from './TopBar.svelte';
import { flush, goLiveRecording, renderApp } from './test-app';


beforeEach(() => {
  localStorage.clear();
  i18n.reset('en-US');
});

describe('TopBar', () => {
  it('Go Live starts, End asks first, cancel keeps streaming', async () => {
    const b = await renderApp();
    await goLiveRecording();
    expect(screen.getByTestId('live-status')).toHaveAttribute('data-phase', 'live');
    expect(screen.getByTestId('live-timer')).toHaveTextContent('00:00');
    expect(b.settings?.record).toBe(true);

    await fireEvent.click(screen.getByTestId('end-live'));
    const dialog = screen.getByRole('alertdialog');
    expect(dialog).toHaveTextContent('End the stream?');
    await fireEvent.click(within(dialog).getByText('Keep streaming'));
    expect(screen.queryByRole('alertdialog')).toBeNull();
    expect(b.calls.some((c) => c.cmd === 'end_live')).toBe(false);

    await fireEvent.click(screen.getByTestId('end-live'));
    await fireEvent.click(screen.getByTestId('confirm-end'));
    await flush();
    expect(b.calls.some((c) => c.cmd === 'end_live')).toBe(true);
    expect(screen.getByTestId('go-live')).toBeInTheDocument();
  });

  it('switches language live', async () => {
    const s = new Studio(createMockBackend());
    render(TopBar, { studio: s });
    expect(screen.getByTestId('go-live')).toHaveTextContent('Go Live');
    await fireEvent.change(screen.getByLabelText('Language'), { target: { value: 'zh-CN' } });
    expect(screen.getByTestId('go-live')).toHaveTextContent('开始直播');
    expect(localStorage.getItem('marquee.locale')).toBe('zh-CN');
  });
});

describe('App', () => {
  it('loads devices, says when there is no camera, and number keys pick scenes', async () => {
    const b = await renderApp({ devices: { cameras: [{ source: 'camera:0', name: 'Desk cam', formats: [] }], microphones: [] } });
    expect(b.calls.some((c) => c.cmd === 'list_devices')).toBe(true);
    expect(screen.getByTestId('scene-1')).toHaveAttribute('aria-pressed', 'true');
    await fireEvent.keyDown(window, { key: '2' });
    expect(screen.getByTestId('scene-2')).toHaveAttribute('aria-pressed', 'true');
    expect(screen.getByTestId('scene-2')).toHaveTextContent('Desk cam');
  });

  it('first run: shows the wizard until finished; "Record only" turns recording on and is remembered', async () => {
    const b = await renderApp({ settings: { first_run_done: false } });
    expect(screen.getByTestId('first-run')).toBeInTheDocument();
    expect(b.calls).toContainEqual({ cmd: 'preview_audio', args: { audio: 'tone' } });
    await fireEvent.click(screen.getByTestId('fr-record-only'));
    await fireEvent.click(screen.getByTestId('fr-finish'));
    await flush();
    expect(screen.queryByTestId('first-run')).toBeNull();
    expect(b.saved).toMatchObject({ first_run_done: true, record: true });
    expect(b.calls).toContainEqual({ cmd: 'preview_audio', args: { audio: null } });
  });

  it('settings: saved from the dialog and used for the next Go Live', async () => {
    const b = await renderApp();
    await fireEvent.click(screen.getByTestId('open-settings'));
    await fireEvent.input(screen.getByTestId('bitrate'), { target: { value: '4000' } });
    await fireEvent.click(screen.getByTestId('settings-save'));
    await flush();
    expect(screen.queryByTestId('settings')).toBeNull();
    expect(b.saved.bitrate_kbps).toBe(4000);
    await goLiveRecording();
    expect(b.settings?.bitrate_kbps).toBe(4000);
  });

  it('shows a go-live error in the streamer’s words', async () => {
    const b = createMockBackend();
    b.goLive = async () => {
      throw { code: 'settings', message: 'add a destination or turn on recording before going live' };
    };
    render(App, { backend: b });
    await flush();
    await fireEvent.click(screen.getByTestId('go-live'));
    await flush();
    expect(screen.getByTestId('error')).toHaveTextContent('add a destination or turn on recording');
    expect(screen.getByTestId('live-status')).toHaveAttribute('data-phase', 'idle');
  });

  it('the empty state says no camera was found', async () => {
    render(App, { backend: createMockBackend() });
    await flush();
    expect(screen.getByTestId('no-camera')).toBeInTheDocument();
  });
});

describe('SceneBar', () => {
  it('shows the director chip once a camera has a microphone; live, a paused director says so and a click resumes it', async () => {
    const none = new Studio(createMockBackend());
    await none.init();
    const first = render(SceneBar, { studio: none });
    expect(screen.queryByTestId('director-toggle')).toBeNull();
    first.unmount();

    const b = createMockBackend({ settings: { source_mics: { test: 'mic:default' }, director: true } });
    const s = new Studio(b);
    await s.init();
    render(SceneBar, { studio: s });
    const chip = screen.getByTestId('director-toggle');
    expect(chip).toHaveAttribute('aria-pressed', 'true');
    await s.live.goLive();
    s.live.applyStats({ ...mockStats(1, [{ state: 'live' }]), director: false });
    await flush();
    expect(chip).toHaveAttribute('aria-pressed', 'false');
    expect(chip).toHaveTextContent('paused');
    await fireEvent.click(chip);
    await flush();
    expect(b.calls.find((c) => c.cmd === 'set_director')?.args).toEqual({ on: true });
    expect(chip).toHaveAttribute('aria-pressed', 'true');
  });
});

describe('Destinations', () => {
  it('shows each state: connecting, live, reconnecting #n, failed: reason', () => {
    const s = new Studio(createMockBackend());
    s.settings.saveDestinations([1, 2, 3, 4].map((i) => ({ url: `rtmp://h${i}/live`, key_name: 'main' })));
    s.live.applyStats(
      mockStats(3, [
        { state: 'connecting', attempt: 1 },
        { state: 'live' },
        { state: 'reconnecting', attempt: 4, retry_in_ms: 800, reason: 'reset' },
        { state: 'failed', reason: 'the server rejected the stream key' },
      ]),
    );
    render(Destinations, { studio: s });
    const chips = screen.getAllByTestId('dest-state').map((e) => e.textContent);
    expect(chips).toEqual(['connecting', 'live', 'reconnecting #4', 'failed: the server rejected the stream key']);
  });

  it('adds a destination, sending the key to the keychain and never storing it', async () => {
    const b = createMockBackend();
    const s = new Studio(b);
    render(Destinations, { studio: s });
    await fireEvent.click(screen.getByText(/Add destination/));
    await fireEvent.input(screen.getByPlaceholderText('rtmp://host/app'), { target: { value: 'rtmp://127.0.0.1:1935/live' } });
    await fireEvent.input(screen.getByPlaceholderText('••••••••'), { target: { value: 'secret-key' } });
    await fireEvent.click(screen.getByText('Save'));
    await flush();
    expect(b.calls).toContainEqual({ cmd: 'set_stream_key', args: { name: 'main' } });
    expect(screen.getAllByTestId('destination')).toHaveLength(1);
    expect(localStorage.getItem('marquee.destinations')).not.toContain('secret-key');
  });
});

describe('StatsPanel', () => {
  it('draws a bitrate graph per destination and audio meters', () => {
    const s = new Studio(createMockBackend());
    for (let i = 0; i < 10; i++) s.live.applyStats(mockStats(i, [{ state: 'live' }, { state: 'live' }]));
    render(StatsPanel, { studio: s });
    const graphs = screen.getAllByTestId('bitrate-graph');
    expect(graphs).toHaveLength(2);
    expect(graphs[0].querySelector('svg')).toHaveAttribute('data-points', '10');
    expect(screen.getByTestId('stat-fps')).toHaveTextContent('30.0');
    expect(screen.getByRole('meter')).toBeInTheDocument();
  });
});

describe('Sparkline and AudioMeter', () => {
  it('sparkline draws a path once it has two points', () => {
    const { container, rerender } = render(Sparkline, { values: [1] });
    expect(container.querySelectorAll('path')).toHaveLength(0);
    rerender({ values: [1, 5, 3] });
    return tick().then(() => expect(container.querySelectorAll('path')).toHaveLength(2));
  });

  it('audio meter shows peak and RMS and turns red near 0 dBFS', () => {
    const { container } = render(AudioMeter, { label: 'mic', peakDb: -3, rmsDb: -12 });
    expect(container.querySelector('.meter')).toHaveAttribute('data-level', 'red');
    expect(screen.getByText(/peak -3.0/)).toBeInTheDocument();
    expect(screen.getByRole('meter')).toHaveAttribute('aria-valuenow', '-12');
  });
});

describe('RoomPanel', () => {
  it('lists chat, deletes and times out from the message menu, shows gifts and runs a vote', async () => {
    const b = createMockBackend();
    const s = new Studio(b);
    await s.init();
    render(RoomPanel, { studio: s });
    const user = { id: 'v1', name: '小明', role: 'viewer' };
    s.room.apply({ kind: 'chat', id: 1, at: 1, user, text: '主播好!', color: '#ffffff', mode: 'scroll', masked: false, deleted: false });
    await flush();
    expect(screen.getAllByTestId('chat-message')).toHaveLength(1);
    await fireEvent.click(screen.getByTestId('chat-menu-button'));
    await fireEvent.click(screen.getByRole('menuitem', { name: 'Timeout 10 min' }));
    await flush();
    expect(b.calls).toContainEqual({ cmd: 'room_moderate', args: { action: 'timeout', user: 'v1', seconds: 600 } });
    expect(s.room.muted.v1).toBeGreaterThan(Date.now());
    await fireEvent.click(screen.getByTestId('chat-menu-button'));
    await fireEvent.click(screen.getByRole('menuitem', { name: 'Delete' }));
    await flush();
    expect(b.calls).toContainEqual({ cmd: 'room_moderate', args: { action: 'delete', id: 1 } });
    // The list applies changes once per frame.
    await waitFor(() => expect(screen.getByTestId('chat-message')).toHaveTextContent('message deleted'));

    s.room.apply({ kind: 'gift', seq: 2, at: 2, user, gift: 'rocket', count: 3, coins: 300, combo: 1 });
    await fireEvent.click(screen.getByRole('tab', { name: /Gifts/ }));
    expect(screen.getByTestId('gift-list')).toHaveTextContent('rocket ×3');


    await fireEvent.click(screen.getByRole('tab', { name: /Vote/ }));
    await fireEvent.input(screen.getByLabelText('Question'), { target: { value: 'Next song?' } });
    await fireEvent.input(screen.getByLabelText('Option 1'), { target: { value: 'A' } });
    await fireEvent.input(screen.getByLabelText('Option 2'), { target: { value: 'B' } });
    await fireEvent.click(screen.getByText('Start vote'));
    await flush();
    expect(b.calls.find((c) => c.cmd === 'room_poll_start')?.args).toEqual({ question: 'Next song?', options: ['A', 'B'], duration_s: 60 });
    const poll = s.room.poll!;
    s.room.apply({ kind: 'poll_tally', poll: poll.poll, tallies: [3, 1] });
    await flush();
    const opts = screen.getAllByTestId('poll-option');
    expect(opts[0]).toHaveTextContent('3 · 75%');
    expect(opts[1]).toHaveTextContent('1 · 25%');
  });

  it('pins a question, runs a lottery and saves room rules through IPC', async () => {
    const b = createMockBackend();
    const s = new Studio(b);
    await s.init();
    render(RoomPanel, { studio: s });
    const user = { id: 'v2', name: 'Ava', role: 'viewer' };
    s.room.apply({ kind: 'question', question: { question: 9, user, text: 'What camera?' } });
    await fireEvent.click(screen.getByRole('tab', { name: /Q&A/ }));
    await fireEvent.click(screen.getByRole('button', { name: 'Pin to screen' }));
    await flush();
    expect(b.calls).toContainEqual({ cmd: 'room_pin_question', args: { question: 9 } });

    await fireEvent.click(screen.getByRole('tab', { name: /Lottery/ }));
    await fireEvent.input(screen.getByTestId('lottery-keyword'), { target: { value: '666' } });
    await fireEvent.input(screen.getByTestId('lottery-prize'), { target: { value: 'Poster' } });
    await fireEvent.click(screen.getByTestId('lottery-start'));
    await flush();
    expect(b.calls).toContainEqual({ cmd: 'room_lottery_start', args: { keyword: '666', prize: 'Poster' } });
    expect(s.room.lottery?.open).toBe(true);

    await fireEvent.click(screen.getByRole('tab', { name: /Rules/ }));
    await fireEvent.click(screen.getByTestId('mods-only'));
    await fireEvent.input(screen.getByTestId('rate-input'), { target: { value: '12' } });
    await fireEvent.submit(screen.getByTestId('room-settings'));
    await flush();
    expect(b.calls).toContainEqual({ cmd: 'room_settings', args: { slow_mode_s: 0, mods_only: true, blocked_mode: 'mask', user_rate_per_min: 12 } });
    expect(b.saved.room.mods_only).toBe(true);
    expect(b.saved.room.user_rate_per_min).toBe(12);
  });

  it('shows the viewer link of the embedded room', async () => {
    const s = new Studio(createMockBackend());
    await s.init();
    render(RoomPanel, { studio: s });
    expect(screen.getByTestId('viewer-link')).toHaveTextContent('http://127.0.0.1:7717/room/main');
  });
});
