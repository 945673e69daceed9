import { fireEvent, screen, waitFor } from '@testing-library/svelte';
import { beforeEach, describe, expect, it } from 'vitest';
import { i18n } from '../lib/i18n.svelte';
import { mockStats } from '../lib/mock';
import { flush, goLiveRecording, renderApp } from './test-app';


beforeEach(() => {
  localStorage.clear();
  i18n.reset('en-US');
});

describe('adaptive bitrate', () => {
  it('is on by default; Settings → Video turns it off or sets its floor, and Go Live takes it', async () => {
    const b = await renderApp();
    await fireEvent.click(screen.getByTestId('open-settings'));
    const abr = screen.getByTestId('abr') as HTMLInputElement;
    expect(abr.checked).toBe(true);
    expect(screen.getByTestId('min-bitrate')).toHaveAttribute('placeholder', '625');
    await fireEvent.input(screen.getByTestId('min-bitrate'), { target: { value: '800' } });
    await fireEvent.click(screen.getByTestId('settings-save'));
    await flush();
    expect([b.saved.adaptive_bitrate, b.saved.min_bitrate_kbps]).toEqual([true, 800]);

    await fireEvent.click(screen.getByTestId('open-settings'));
    await fireEvent.click(screen.getByTestId('abr'));
    expect(screen.queryByTestId('min-bitrate')).toBeNull();
    await fireEvent.click(screen.getByTestId('settings-save'));
    await flush();
    await goLiveRecording();
    expect(b.settings?.adaptive_bitrate).toBe(false);
  });

  it('the stats show the target, the ceiling and why it changed, in both languages', async () => {
    const b = await renderApp();
    await goLiveRecording();
    b.emit('stats', mockStats(5, [{ state: 'live' }], 1200));
    await waitFor(() => expect(screen.getByTestId('stat-abr')).toHaveTextContent('1200 / 2600 kbps'));
    expect(screen.getByTestId('stat-abr')).toHaveTextContent('lowered: the upload could not keep up');
    await fireEvent.change(screen.getByLabelText('Language'), { target: { value: 'zh-CN' } });
    expect(screen.getByTestId('stat-abr')).toHaveTextContent('已降低：上传跟不上');
  });

  it("each destination shows its health: queue, round trip, dropped frames and reconnects", async () => {
    const b = await renderApp();
    await goLiveRecording();
    const s = mockStats(5, [{ state: 'live' }, { state: 'live' }], 1200);
    s.destinations[1] = { ...s.destinations[1], queued_ms: 900, rtt_ms: null, dropped_video: 12, reconnects: 1 };
    b.emit('stats', s);
    await waitFor(() => expect(screen.getAllByTestId('dest-health')).toHaveLength(2));
    const [first, second] = screen.getAllByTestId('dest-health');
    expect(first).toHaveTextContent('queue 40 ms · round trip 28 ms · frames dropped 0 · reconnects 0');
    // No round trip where the connection does not tell it.
    expect(second).toHaveTextContent('queue 900 ms · frames dropped 12 · reconnects 1');
    expect(second).not.toHaveTextContent('round trip');
    await fireEvent.change(screen.getByLabelText('Language'), { target: { value: 'zh-CN' } });
    expect(second).toHaveTextContent('队列 900 ms · 丢帧 12 · 重连 1');
  });
});
