import { fireEvent, render, screen } from '@testing-library/svelte';
import { tick } from 'svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { i18n } from '../lib/i18n.svelte';
import FirstRun from './FirstRun.svelte';
import SettingsDialog, { validateSettings } from './SettingsDialog.svelte';
import type { AppSettingsValue } from './types';

const settle = async () => {
  for (let i = 0; i < 4; i++) await tick();
  await new Promise((r) => setTimeout(r, 0));
};

beforeEach(() => {
  localStorage.clear();
  i18n.reset('en-US');
});

const devices = {
  cameras: [{ id: 'camera:0', name: 'Webcam' }],
  microphones: [{ id: 'mic:default', name: 'Built-in' }],
};

describe('FirstRun', () => {
  it('hands the stream key to onsavekey, clears it, and finishes with the destination', async () => {
    const onsavekey = vi.fn();
    const onfinish = vi.fn();
    const ontest = vi.fn().mockResolvedValue({ ok: true });
    render(FirstRun, { ...devices, mic: 'mic:default', onsavekey, onfinish, ontest });
    await fireEvent.change(screen.getByTestId('fr-camera'), { target: { value: 'camera:0' } });
    await fireEvent.click(screen.getByTestId('fr-next'));
    await fireEvent.click(screen.getByRole('radio', { name: 'YouTube' }));
    expect(screen.getByTestId('fr-url')).toHaveValue('rtmp://a.rtmp.youtube.com/live2');
    const key = screen.getByTestId('fr-key') as HTMLInputElement;
    expect(key.type).toBe('password');
    await fireEvent.input(key, { target: { value: 'abcd-efgh-ijkl' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Show' }));
    expect(key.type).toBe('text');
    await fireEvent.click(screen.getByTestId('fr-test'));
    await settle();
    expect(ontest).toHaveBeenCalledWith('rtmp://a.rtmp.youtube.com/live2', 'abcd-efgh-ijkl');
    expect(screen.getByTestId('fr-test-result')).toHaveTextContent('Connected');
    await fireEvent.click(screen.getByTestId('fr-next'));
    await settle();
    expect(onsavekey).toHaveBeenCalledWith('main', 'abcd-efgh-ijkl');
    expect(key.value).toBe('');
    await fireEvent.click(screen.getByTestId('fr-finish'));
    expect(onfinish).toHaveBeenCalledWith({
      mode: 'live',
      camera: 'camera:0',
      mic: 'mic:default',
      destination: { url: 'rtmp://a.rtmp.youtube.com/live2', key_name: 'main' },
      preset: 'youtube',
    });
    expect(JSON.stringify(onfinish.mock.calls)).not.toContain('abcd-efgh-ijkl');
  });

  it('explains what is missing instead of moving on, and shows a failed test in plain words', async () => {
    const ontest = vi.fn().mockResolvedValue({ ok: false, reason: 'the server refused the key' });
    render(FirstRun, { ...devices, ontest });
    await fireEvent.click(screen.getByTestId('fr-next'));
    await fireEvent.click(screen.getByRole('radio', { name: 'Douyin' }));
    expect(screen.getByTestId('fr-url')).toHaveValue('');
    expect(screen.getByTestId('fr-help')).toHaveTextContent('推流地址');
    await fireEvent.click(screen.getByTestId('fr-next'));
    expect(screen.getByTestId('first-run')).toHaveAttribute('data-step', '2');
    expect(screen.getByText(/should start with rtmp:\/\/ or rtmps:\/\//)).toBeInTheDocument();
    expect(screen.getByText('Paste the stream key from your platform.')).toBeInTheDocument();
    await fireEvent.input(screen.getByTestId('fr-url'), { target: { value: 'rtmp://push.example.com/live' } });
    await fireEvent.input(screen.getByTestId('fr-key'), { target: { value: 'k' } });
    await fireEvent.click(screen.getByTestId('fr-test'));
    await settle();
    expect(screen.getByTestId('fr-test-result')).toHaveTextContent('Could not connect: the server refused the key');
  });

  it('"Record only" finishes without a destination or a key', async () => {
    const onfinish = vi.fn();
    const onsavekey = vi.fn();
    render(FirstRun, { cameras: [], microphones: [], onfinish, onsavekey });
    expect(screen.getByText(/No camera found/)).toBeInTheDocument();
    await fireEvent.click(screen.getByTestId('fr-record-only'));
    expect(screen.getByTestId('fr-summary')).toHaveTextContent('Recording only');
    await fireEvent.click(screen.getByTestId('fr-finish'));
    expect(onfinish).toHaveBeenCalledWith({ mode: 'record', camera: null, mic: null, destination: null, preset: 'twitch' });
    expect(onsavekey).not.toHaveBeenCalled();
  });

  it('fits in Chinese', async () => {
    i18n.set('zh-CN');
    render(FirstRun, devices);
    expect(screen.getByText('马上开始直播')).toBeInTheDocument();
    await fireEvent.click(screen.getByTestId('fr-next'));
    expect(screen.getByRole('radio', { name: '哔哩哔哩' })).toBeInTheDocument();
  });
});

const settings = (): AppSettingsValue => ({
  video: { width: 1280, height: 720, fps: 30, bitrate_kbps: 2500, encoder: 'auto', adaptive: true, min_kbps: null },
  audio: { mic: 'mic:default', gain_db: 0, cameraMics: {}, director: false, directorHoldS: 3 },
  destinations: [{ url: 'rtmp://live.twitch.tv/app', key_name: 'twitch' }],
  overlays: [],
  room: { blockedWords: [], blockedMode: 'mask', slowModeS: 0, modsOnly: false, userRatePerMin: 0 },
  roomHome: { mode: 'this_computer', lan_address: null, port: null, hosted_url: '', hosted_room: '', ca_file: null },
  guests: { slots: 0, green_room: true, layout: 'auto', view: 'program' },
  chatSources: [],
  twitchClientId: '',
  youtubeClientId: '',
  networkCameras: [],
  language: 'system',
  theme: 'system',
});

describe('SettingsDialog', () => {
  it('validates in a streamer’s words', () => {
    expect(validateSettings(settings())).toEqual({});
    const v = settings();
    v.video.bitrate_kbps = 100;
    v.video.width = 1279;
    v.destinations.push({ url: 'live.twitch.tv/app', key_name: null }, { url: 'rtmp://live.twitch.tv/app/', key_name: null });
    expect(validateSettings(v)).toEqual({
      'video.size': 'settings.badSize',
      'video.bitrate': 'settings.badBitrate',
      'destinations.1': 'settings.badDestUrl',
      'destinations.2': 'settings.dupDest',
    });
  });

  it('takes an SRT destination, and network camera ports each once from 1024', () => {
    const v = settings();
    v.destinations.push({ url: 'srt://ingest.example.com:9000?latency=200', key_name: 'ingest' });
    v.destinations.push({ url: 'srt://h:9000?streamid=abc&passphrase=secretsecret', key_name: null });
    expect(validateSettings(v)).toEqual({});
    v.networkCameras = [9000, 9000];
    expect(validateSettings(v)).toEqual({ 'video.network': 'settings.net.badPort' });
    v.networkCameras = [80];
    expect(validateSettings(v)).toEqual({ 'video.network': 'settings.net.badPort' });
  });

  it('adds a network camera, and shows a saved one with the address to type into the phone and its QR code', async () => {
    const onsave = vi.fn();
    const v = settings();
    v.networkCameras = [9000];
    render(SettingsDialog, {
      value: v,
      onsave,
      networkPushTo: { 'srt://0.0.0.0:9000?mode=listener': ['srt://192.168.1.23:9000', 'srt://10.0.0.5:9000'] },
    });
    expect(screen.getByTestId('network-push-0-link')).toHaveTextContent('srt://192.168.1.23:9000');
    expect(screen.getByTestId('network-push-0-qr')).toBeInTheDocument();
    expect(screen.getByTestId('network-cameras')).toHaveTextContent('srt://10.0.0.5:9000');
    expect(screen.getByTestId('network-cameras')).not.toHaveTextContent('127.0.0.1');
    await fireEvent.click(screen.getByTestId('network-add'));
    await settle();
    expect(screen.getByTestId('network-camera-1')).toHaveTextContent('Save to see the address');
    await fireEvent.click(screen.getByTestId('settings-save'));
    await settle();
    expect(onsave).toHaveBeenCalledTimes(1);
    expect((onsave.mock.calls[0][0] as AppSettingsValue).networkCameras).toEqual([9000, 9001]);
  });

  it('refuses to save with a bad bitrate, says why, then saves the fixed value', async () => {
    const onsave = vi.fn();
    const v = settings();
    v.video.bitrate_kbps = 150;
    render(SettingsDialog, { value: v, onsave });
    await fireEvent.click(screen.getByTestId('settings-save'));
    expect(onsave).not.toHaveBeenCalled();
    expect(screen.getByTestId('settings-error')).toHaveTextContent('Fix the highlighted fields to save.');
    expect(screen.getByTestId('bitrate-hint')).toHaveTextContent(/Below 1,000 looks blurry/);
    await fireEvent.input(screen.getByTestId('bitrate'), { target: { value: '4500' } });
    await settle();
    await fireEvent.click(screen.getByRole('tab', { name: 'Language & theme' }));
    await fireEvent.click(screen.getByRole('radio', { name: '简体中文' }));
    await fireEvent.click(screen.getByRole('radio', { name: 'Dark' }));
    await fireEvent.click(screen.getByTestId('settings-save'));
    await settle();
    expect(onsave).toHaveBeenCalledTimes(1);
    expect(onsave.mock.calls[0][0]).toMatchObject({ video: { bitrate_kbps: 4500 }, language: 'zh-CN', theme: 'dark' });
  });

  it('opens the tab with the first problem when saving from another tab', async () => {
    const onsave = vi.fn();
    render(SettingsDialog, { value: settings(), onsave, tab: 'general' });
    await fireEvent.click(screen.getByRole('tab', { name: 'Destinations' }));
    await fireEvent.click(screen.getByTestId('dest-add'));
    await fireEvent.input(screen.getAllByTestId('dest-url')[1], { target: { value: 'ftp://nope' } });
    await fireEvent.click(screen.getByRole('tab', { name: 'Video' }));
    await fireEvent.click(screen.getByTestId('settings-save'));
    expect(screen.getByRole('tab', { name: /Destinations/ })).toHaveAttribute('aria-selected', 'true');
    expect(onsave).not.toHaveBeenCalled();
  });

  it('hands typed stream keys to onsavekey, never in the saved value', async () => {
    const onsave = vi.fn();
    const onsavekey = vi.fn();
    render(SettingsDialog, { value: settings(), onsave, onsavekey, tab: 'destinations' });
    const key = screen.getByPlaceholderText('••••••••') as HTMLInputElement;
    await fireEvent.input(key, { target: { value: 'live_secret' } });
    await fireEvent.click(screen.getByTestId('settings-save'));
    await settle();
    expect(onsavekey).toHaveBeenCalledWith('twitch', 'live_secret');
    expect(key.value).toBe('');
    expect(JSON.stringify(onsave.mock.calls)).not.toContain('live_secret');
  });

  it('gives each camera a microphone and turns director mode on only with one', async () => {
    const onsave = vi.fn();
    const sources = [
      { id: 'test', name: 'Test pattern' },
      { id: 'camera:0', name: 'Stage' },
    ];
    const microphones = [
      { id: 'mic:default', name: 'Default microphone' },
      { id: 'mic:usb', name: 'USB mic' },
    ];
    render(SettingsDialog, { value: settings(), onsave, sources, microphones, tab: 'audio' });
    await fireEvent.click(screen.getByTestId('director-setting'));
    await fireEvent.click(screen.getByTestId('settings-save'));
    expect(onsave).not.toHaveBeenCalled();
    expect(screen.getByText(/pick one for at least one camera/)).toBeInTheDocument();
    await fireEvent.change(screen.getByTestId('camera-mic-camera:0'), { target: { value: 'mic:usb' } });
    await fireEvent.input(screen.getByTestId('director-hold'), { target: { value: '5' } });
    await settle();
    await fireEvent.click(screen.getByTestId('settings-save'));
    await settle();
    expect(onsave).toHaveBeenCalledTimes(1);
    expect(onsave.mock.calls[0][0].audio).toEqual({ mic: 'mic:default', gain_db: 0, cameraMics: { 'camera:0': 'mic:usb' }, director: true, directorHoldS: 5 });
  });

  it('adds overlays, says what is missing, and saves them in order (one danmaku layer at most)', async () => {
    const onsave = vi.fn();
    render(SettingsDialog, { value: settings(), onsave, tab: 'overlays' });
    expect(screen.getByText('No overlays yet.')).toBeInTheDocument();
    await fireEvent.click(screen.getByTestId('overlay-add-text'));
    await fireEvent.click(screen.getByTestId('overlay-add-danmaku'));
    expect(screen.getByTestId('overlay-add-danmaku')).toBeDisabled();
    await fireEvent.click(screen.getByTestId('settings-save'));
    expect(onsave).not.toHaveBeenCalled();
    expect(screen.getByText('Write the text to show.')).toBeInTheDocument();
    await fireEvent.input(screen.getByTestId('overlay-text'), { target: { value: '直播中' } });
    await fireEvent.change(screen.getByTestId('overlay-place'), { target: { value: 'tr' } });
    await settle();
    await fireEvent.click(screen.getByTestId('settings-save'));
    await settle();
    expect(onsave).toHaveBeenCalledTimes(1);
    expect(onsave.mock.calls[0][0].overlays).toEqual([
      { id: 'title', kind: 'text', text: '直播中', image: '', place: 'tr', enabled: true },
      { id: 'danmaku', kind: 'danmaku', text: '', image: '', place: 'bl', enabled: true },
    ]);
  });

  it('Escape cancels', async () => {
    const oncancel = vi.fn();
    render(SettingsDialog, { value: settings(), oncancel });
    await fireEvent.keyDown(screen.getByRole('dialog'), { key: 'Escape' });
    expect(oncancel).toHaveBeenCalled();
  });
});
