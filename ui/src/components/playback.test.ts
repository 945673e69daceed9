import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { beforeEach, describe, expect, it } from 'vitest';
import { i18n } from '../lib/i18n.svelte';
import { BACKEND } from '../lib/ipc';
import { createMockBackend } from '../lib/mock';
import PlaybackSettings from './PlaybackSettings.svelte';

beforeEach(() => {
  localStorage.clear();
  i18n.reset('en-US');
});

describe('PlaybackSettings', () => {
  it('adds an angle, shows why a URL is refused, applies a good one and shows it again', async () => {
    const b = createMockBackend();
    const { unmount } = render(PlaybackSettings, { context: new Map([[BACKEND, b]]) });
    await screen.findByText(/No playback address/);
    await fireEvent.click(screen.getByTestId('playback-add'));
    await fireEvent.input(screen.getByTestId('playback-name'), { target: { value: '舞台' } });
    await fireEvent.input(screen.getByTestId('playback-url'), { target: { value: 'rtmp://ingest/live/key' } });
    await fireEvent.click(screen.getByTestId('playback-apply'));
    expect((await screen.findByTestId('playback-error')).textContent).toMatch(/playback URL 1: .*http/);
    expect(b.playback).toEqual([]);

    await fireEvent.input(screen.getByTestId('playback-url'), { target: { value: ' https://cdn.example.com/live/stage.m3u8 ' } });
    await fireEvent.click(screen.getByTestId('playback-apply'));
    await screen.findByText(/Viewers now play it/);
    expect(b.playback).toEqual([{ name: '舞台', url: 'https://cdn.example.com/live/stage.m3u8' }]);
    expect(b.calls).toContainEqual({ cmd: 'room_set_playback', args: { urls: [{ name: '舞台', url: 'https://cdn.example.com/live/stage.m3u8' }] } });
    unmount();

    render(PlaybackSettings, { context: new Map([[BACKEND, b]]) });
    await waitFor(() => expect((screen.getByTestId('playback-url') as HTMLInputElement).value).toBe('https://cdn.example.com/live/stage.m3u8'));
  });

  it('speaks Chinese', async () => {
    i18n.reset('zh-CN');
    render(PlaybackSettings, { context: new Map([[BACKEND, createMockBackend()]]) });
    await screen.findByText('观看页播放地址');
    expect(screen.getByTestId('playback-add').textContent).toContain('添加机位');
  });
});
