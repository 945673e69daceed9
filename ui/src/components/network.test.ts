import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { beforeEach, describe, expect, it } from 'vitest';
import App from '../App.svelte';
import { i18n } from '../lib/i18n.svelte';
import { createMockBackend, mockStats } from '../lib/mock';
import { flush, goLiveRecording } from './test-app';


beforeEach(() => {
  localStorage.clear();
  i18n.reset('en-US');
});

const SOURCE = 'srt://0.0.0.0:9000?mode=listener';

describe('network cameras', () => {
  it('are on the scene bar, their address in Settings, and live in the stats with the rate they arrive at', async () => {
    const b = createMockBackend({
      settings: { network_cameras: [9000] },
      devices: {
        cameras: [{ source: SOURCE, name: 'Network camera :9000', formats: [], push_to: ['srt://192.168.1.23:9000'] }],
        microphones: [],
      },
    });
    render(App, { backend: b });
    await flush();
    expect(screen.getByTestId('scene-2')).toHaveTextContent('Network camera :9000');

    await fireEvent.click(screen.getByTestId('open-settings'));
    expect(screen.getByTestId('network-push-0-link')).toHaveTextContent('srt://192.168.1.23:9000');
    expect(screen.getByTestId('network-push-0-qr')).toBeInTheDocument();
    expect(screen.getByTestId('network-pass-0')).toHaveAttribute('data-locked', 'false');
    expect(screen.getByTestId('network-pass-0')).toHaveTextContent('anyone on this network can push to it');
    // A passphrase too short is refused with the reason; a good one goes to the keychain.
    await fireEvent.input(screen.getByTestId('network-pass-input-0'), { target: { value: 'short' } });
    await fireEvent.click(screen.getByTestId('network-pass-set-0'));
    await waitFor(() => expect(screen.getByTestId('network-pass-error-0')).toHaveTextContent('10 to 79 characters'));
    await fireEvent.input(screen.getByTestId('network-pass-input-0'), { target: { value: 'stage-door-secret' } });
    await fireEvent.click(screen.getByTestId('network-pass-set-0'));
    await waitFor(() => expect(screen.getByTestId('network-pass-0')).toHaveAttribute('data-locked', 'true'));
    expect(b.calls.filter((c) => c.cmd === 'set_network_camera_passphrase').at(-1)?.args).toEqual({ port: 9000, set: true });
    expect(JSON.stringify(b.calls)).not.toContain('stage-door-secret');
    expect(screen.getByTestId('network-push-0-link-card')).toHaveTextContent('with its passphrase');
    await fireEvent.click(screen.getByTestId('network-pass-remove-0'));
    await waitFor(() => expect(screen.getByTestId('network-pass-0')).toHaveAttribute('data-locked', 'false'));
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));

    await fireEvent.click(screen.getByTestId('scene-2'));
    await goLiveRecording();
    expect(b.calls.find((c) => c.cmd === 'go_live')?.args).toMatchObject({ video: SOURCE });
    b.emit('stats', { ...mockStats(3, []), remote_cameras: [{ id: 'srt://0.0.0.0:9000', live: false, bitrate_kbps: 0 }] });
    await waitFor(() => expect(screen.getByTestId('stat-remote')).toHaveTextContent('Waiting for the phone'));
    b.emit('stats', { ...mockStats(4, []), remote_cameras: [{ id: 'srt://0.0.0.0:9000', live: true, bitrate_kbps: 1480.4, latency_ms: 123.6 }] });
    await waitFor(() => expect(screen.getByTestId('stat-remote')).toHaveTextContent('1480 kbps'));
    expect(screen.getByTestId('stat-remote-latency')).toHaveTextContent('srt://0.0.0.0:9000 · 124 ms behind');
  });

  it('are named in the UI language on the scene bar', async () => {
    const b = createMockBackend({
      settings: { network_cameras: [9000], language: 'zh-CN' },
      devices: { cameras: [{ source: SOURCE, name: 'Network camera :9000', formats: [], push_to: ['srt://192.168.1.23:9000'] }], microphones: [] },
    });
    render(App, { backend: b });
    await flush();
    expect(screen.getByTestId('scene-2')).toHaveTextContent('网络摄像头 :9000');
  });
});

describe('settings opened early', () => {
  it('wait for the remembered settings, so a save cannot put the defaults over them', async () => {
    const b = createMockBackend({ settings: { network_cameras: [9100] } });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const load = b.loadSettings.bind(b);
    b.loadSettings = async () => {
      await gate;
      return load();
    };
    render(App, { backend: b });
    await flush();
    await fireEvent.click(screen.getByTestId('open-settings'));
    await flush();
    expect(screen.queryByTestId('settings-save')).toBeNull();
    release();
    await waitFor(() => expect(screen.getByTestId('network-port-0')).toHaveValue(9100));
  });
});
