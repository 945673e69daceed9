import { describe, expect, it, vi } from 'vitest';
import { createMockBackend, mockStats } from './mock';
import { i18n } from './i18n.svelte';
import { HISTORY, stateLabel } from './live.svelte';
import { Studio } from './studio.svelte';

describe('Studio', () => {
  it('labels destination states as the issue asks', () => {
    i18n.reset('en');
    expect(stateLabel({ state: 'connecting', attempt: 1 })).toBe('connecting');
    expect(stateLabel({ state: 'live' })).toBe('live');
    expect(stateLabel({ state: 'reconnecting', attempt: 2, retry_in_ms: 500, reason: 'reset' })).toBe('reconnecting #2');
    expect(stateLabel({ state: 'failed', reason: 'stream key rejected' })).toBe('failed: stream key rejected');
  });

  it('keeps two minutes of bitrate per destination', () => {
    const s = new Studio(createMockBackend());
    for (let i = 0; i < HISTORY + 30; i++) s.live.applyStats(mockStats(i, [{ state: 'live' }, { state: 'live' }], 2000 + i));
    expect(s.live.history).toHaveLength(2);
    expect(s.live.history[0]).toHaveLength(HISTORY);
    expect(s.live.history[0].at(-1)).toBeCloseTo(s.live.stats!.destinations[0].bitrate_kbps);
  });

  it('goes live with the chosen scene and destinations, and ends only after confirming', async () => {
    const b = createMockBackend();
    const s = new Studio(b);
    await s.init();
    s.settings.saveDestinations([{ url: 'rtmp://127.0.0.1:1935/live', key_name: 'main' }]);
    await s.live.goLive();
    expect(s.live.phase).toBe('live');
    expect(b.settings?.video).toBe('test');
    expect(b.settings?.destinations).toEqual([{ url: 'rtmp://127.0.0.1:1935/live', key_name: 'main' }]);
    s.live.requestEnd();
    expect(s.live.confirmingEnd).toBe(true);
    expect(b.calls.some((c) => c.cmd === 'end_live')).toBe(false);
    await s.live.confirmEnd();
    expect(s.live.phase).toBe('idle');
    expect(b.calls.some((c) => c.cmd === 'end_live')).toBe(true);
  });

  it('adopts the settings as saved: a pasted key comes back as a keychain name', async () => {
    const b = createMockBackend();
    const s = new Studio(b);
    await s.init();
    b.saveSettings = async (settings) => ({
      ...settings,
      destinations: [{ url: 'rtmp://live.twitch.tv/app', key_name: 'twitch' }],
    });
    s.settings.saveDestinations([{ url: 'rtmp://live.twitch.tv/app/live_123_abc', key_name: null }]);
    await vi.waitFor(() => expect(s.settings.destinations).toEqual([{ url: 'rtmp://live.twitch.tv/app', key_name: 'twitch' }]));
    expect(JSON.stringify(s.settings.value)).not.toContain('live_123_abc');
    expect(JSON.stringify({ ...globalThis.localStorage })).not.toContain('live_123_abc');
  });

  it('shows an AppError from go_live and stays offline', async () => {
    const b = createMockBackend();
    b.goLive = async () => {
      throw { code: 'keychain', message: 'the OS keychain is locked' };
    };
    const s = new Studio(b);
    await s.live.goLive();
    expect(s.live.phase).toBe('idle');
    expect(s.app.error).toEqual({ code: 'keychain', message: 'the OS keychain is locked' });
  });

  it('scene shortcuts 1–9 pick scenes; while live they switch the engine (Shift fades)', async () => {
    const b = createMockBackend({
      devices: { cameras: [{ source: 'camera:0', name: 'USB Cam', formats: [] }], microphones: [] },
    });
    const s = new Studio(b);
    await s.init();
    expect(s.live.scenes.map((x) => x.shortcut)).toEqual([1, 2]);
    expect(s.shortcut('2')).toBe(true);
    expect(s.live.sceneId).toBe('camera:0');
    expect(s.shortcut('7')).toBe(false);
    expect(s.shortcut('a')).toBe(false);
    await s.live.goLive();
    // Every offered source is opened, the chosen one first on air.
    const live = b.calls.find((c) => c.cmd === 'go_live')?.args as { video: string; sources: string[] };
    expect(live.video).toBe('camera:0');
    expect(live.sources).toEqual(['test', 'camera:0']);
    expect(s.shortcut('1')).toBe(true);
    expect(s.live.sceneId).toBe('test');
    expect(s.shortcut('2', true)).toBe(true);
    const switches = b.calls.filter((c) => c.cmd === 'switch_scene').map((c) => c.args);
    expect(switches).toEqual([
      { scene: 'test', transition: 'cut' },
      { scene: 'camera:0', transition: 'fade:300' },
    ]);
  });

  it('director mode: D toggles it for the next stream, goes live with the camera microphones, and while live follows the engine', async () => {
    const b = createMockBackend({
      devices: { cameras: [{ source: 'camera:0', name: 'Stage', formats: [] }], microphones: [] },
      settings: { source_mics: { 'camera:0': 'mic:usb' }, director_hold_s: 4 },
    });
    const s = new Studio(b);
    await s.init();
    expect(s.live.directorAvailable).toBe(true);
    expect(s.shortcut('d')).toBe(true);
    expect(s.live.directorOn).toBe(true);
    await new Promise((r) => setTimeout(r, 0));
    expect(b.saved.director).toBe(true);
    await s.live.goLive();
    const live = b.calls.find((c) => c.cmd === 'go_live')?.args as { source_mics: Record<string, string>; director: boolean; director_hold_s: number };
    expect(live).toMatchObject({ source_mics: { 'camera:0': 'mic:usb' }, director: true, director_hold_s: 4 });
    // The engine reports it (a host's cut pauses it); the director's cuts move the highlight.
    s.live.applyStats({ ...mockStats(1, [{ state: 'live' }]), director: false });
    expect(s.live.directorOn).toBe(false);
    b.emit('session_event', { session_ms: 1, dest: null, subject: 'camera:0', kind: 'scene', attempt: null, detail: 'camera:0 (cut, director) on air' });
    expect(s.live.sceneId).toBe('camera:0');
    expect(s.shortcut('D')).toBe(true);
    await new Promise((r) => setTimeout(r, 0));
    expect(b.calls.find((c) => c.cmd === 'set_director')?.args).toEqual({ on: true });
    expect(s.live.directorOn).toBe(true);
  });

  it('overlays go live from the settings and switch while live through the engine', async () => {
    const title = { id: 'title', kind: 'text' as const, text: '直播中', image: '', place: 'tl', enabled: true };
    const b = createMockBackend({ settings: { overlays: [title] } });
    const s = new Studio(b);
    await s.init();
    expect(s.live.overlayShown('title')).toBe(true);
    await s.live.toggleOverlay('title');
    expect(s.live.overlayShown('title')).toBe(false);
    await new Promise((r) => setTimeout(r, 0));
    expect(b.saved.overlays[0].enabled).toBe(false);
    await s.live.toggleOverlay('title');
    await s.live.goLive();
    expect((b.calls.find((c) => c.cmd === 'go_live')?.args as { overlays: unknown[] }).overlays).toEqual([title]);
    await s.live.toggleOverlay('title');
    expect(b.calls.find((c) => c.cmd === 'set_overlay')?.args).toEqual({ id: 'title', on: false });
    expect(s.live.danmakuBurntIn).toBe(false);
    expect(s.live.overlayShown('title')).toBe(false);
    expect(b.saved.overlays[0].enabled).toBe(true);
  });

  it('without a camera microphone there is no director mode', async () => {
    const s = new Studio(createMockBackend());
    await s.init();
    expect(s.live.directorAvailable).toBe(false);
    expect(s.shortcut('d')).toBe(false);
  });

  it('H saves the last 30 s as a clip and M drops a mark, only while live', async () => {
    const b = createMockBackend();
    const s = new Studio(b);
    await s.init();
    expect(s.shortcut('h')).toBe(false);
    await s.live.goLive();
    expect(s.shortcut('h')).toBe(true);
    await new Promise((r) => setTimeout(r, 0));
    expect(b.calls.find((c) => c.cmd === 'save_highlight')?.args).toEqual({ seconds: 30 });
    expect(s.app.notice).toContain('highlight-');
    expect(s.shortcut('m')).toBe(true);
    await new Promise((r) => setTimeout(r, 0));
    expect(b.calls.some((c) => c.cmd === 'mark_highlight')).toBe(true);
  });

  it('a refused switch puts the scene bar back and says why', async () => {
    const b = createMockBackend({
      devices: { cameras: [{ source: 'camera:0', name: 'USB Cam', formats: [] }], microphones: [] },
    });
    b.switchScene = async () => {
      throw { code: 'settings', message: 'switches are coming faster than frames: slow down' };
    };
    const s = new Studio(b);
    await s.init();
    await s.live.goLive();
    s.live.selectScene('camera:0');
    await new Promise((r) => setTimeout(r, 0));
    expect(s.live.sceneId).toBe('test');
    expect(s.app.error?.message).toContain('slow down');
  });

  it('applies room events: chat, delete, gift alert, poll and tallies', () => {
    const s = new Studio(createMockBackend());
    const user = { id: 'v1', name: '小明', role: 'viewer' };
    s.room.apply({ kind: 'joined', viewers: 3, poll: null, settings: { slow_mode_s: 0, mods_only: false, blocked_mode: 'mask', user_rate_per_min: 0 }, pinned: null, lottery: null, catalog: [] });
    s.room.apply({ kind: 'chat', id: 7, at: 1, user, text: '主播好', color: '#ffffff', mode: 'scroll', masked: false, deleted: false });
    s.room.apply({ kind: 'chat_deleted', id: 7 });
    expect(s.room.chat[0]).toMatchObject({ id: 7, deleted: true, text: '' });
    s.room.apply({ kind: 'gift', seq: 8, at: 2, user, gift: 'rocket', count: 2, coins: 200, combo: 1 });
    expect(s.room.giftAlert).toMatchObject({ user: '小明', gift: 'rocket', count: 2 });
    s.room.apply({ kind: 'poll', poll: { poll: 9, question: 'Q', options: ['a', 'b'], tallies: [0, 0], ends_at: 0, open: true } });
    s.room.apply({ kind: 'poll_tally', poll: 9, tallies: [3, 1] });
    expect(s.room.poll?.tallies).toEqual([3, 1]);
    s.room.apply({ kind: 'viewers', count: 42 });
    // The room counts the app's own host connection too.
    expect(s.room.viewers).toBe(41);
  });

  it('a page that starts late (or reloads) gets the chat history and rules from room_attach, old gifts without an alert', async () => {
    const b = createMockBackend();
    const user = { id: 'v1', name: '小明', role: 'viewer' };
    const rules = { slow_mode_s: 5, mods_only: false, blocked_mode: 'mask' as const, user_rate_per_min: 20 };
    b.roomAttach = async () => {
      b.calls.push({ cmd: 'room_attach' });
      return [
        { kind: 'joined', viewers: 3, poll: null, settings: rules, pinned: null, lottery: null, catalog: [] },
        { kind: 'chat', id: 7, at: 1, user, text: '早就来了', color: '#ffffff', mode: 'scroll', masked: false, deleted: false },
        { kind: 'gift', seq: 8, at: 2, user, gift: 'rocket', count: 1, coins: 100, combo: 1 },
      ];
    };
    const s = new Studio(b);
    await s.init();
    expect(b.calls.filter((c) => c.cmd === 'room_attach')).toHaveLength(1);
    expect(s.room.chat.map((c) => c.id)).toEqual([7, 8]);
    expect(s.room.rules).toEqual(rules);
    expect(s.room.gifts).toHaveLength(1);
    expect(s.room.giftAlert).toBeNull();
    // Live events after the replay still alert.
    s.room.apply({ kind: 'gift', seq: 9, at: 3, user, gift: 'heart', count: 1, coins: 1, combo: 1 });
    expect(s.room.giftAlert).toMatchObject({ gift: 'heart' });
  });

  it('a page reloaded while live shows the live studio with the timer where it was', async () => {
    const b = createMockBackend({ devices: { cameras: [{ source: 'camera:0', name: 'Stage', formats: [] }], microphones: [] } });
    b.liveS = 125;
    b.settings = { ...(b.settings ?? ({} as never)), video: 'camera:0' };
    const s = new Studio(b);
    await s.init();
    expect(s.live.phase).toBe('live');
    expect(s.live.sceneId).toBe('camera:0');
    expect(Math.round(s.live.elapsed)).toBe(125);
    expect(b.calls.some((c) => c.cmd === 'preview_source')).toBe(false);
    s.dispose();
  });

  it('attaches to the room when it becomes ready if it was still starting', async () => {
    const b = createMockBackend();
    let ready = false;
    b.roomAttach = async () => {
      b.calls.push({ cmd: 'room_attach' });
      return ready ? [{ kind: 'viewers', count: 5 }] : null;
    };
    const s = new Studio(b);
    await s.init();
    ready = true;
    b.emit('room_ready', { room: 'main', viewer_url: 'http://127.0.0.1:7717/room/main', ws_url: 'ws://127.0.0.1:7717/room/main/ws', home: 'this_computer', firewall: null });
    await vi.waitFor(() => expect(s.room.viewers).toBe(4));
    expect(b.calls.filter((c) => c.cmd === 'room_attach')).toHaveLength(2);
  });

  it('moves the room where the settings say: a hosted link, a fresh attach, and what to fix when it cannot join', async () => {
    i18n.reset('en');
    const b = createMockBackend();
    const s = new Studio(b);
    await s.init();
    await vi.waitFor(() => expect(s.room.info?.home).toBe('this_computer'));
    await s.settings.saveHostKey('mq1.key');
    expect(s.settings.hostKeyStored).toBe(true);
    expect(JSON.stringify(b.calls)).not.toContain('mq1.key');
    const attaches = () => b.calls.filter((c) => c.cmd === 'room_attach').length;
    const before = attaches();
    await s.settings.save({ ...s.settings.value, room_home: { mode: 'hosted', lan_address: null, port: null, hosted_url: 'https://live.example.com', hosted_room: 'premiere', ca_file: null } });
    await vi.waitFor(() => expect(s.room.info?.viewer_url).toBe('https://live.example.com/room/premiere'));
    expect(attaches()).toBe(before + 1);
    b.emit('room', { kind: 'disconnected', reason: 'connect: HTTP 403 Forbidden: token expired', retrying: true, problem: 'host_key', retry_in_ms: 2000 });
    expect(s.room.downText()).toMatch(/^Room offline: The host key was refused .*\(connect: HTTP 403 Forbidden: token expired\) Retrying in 2 s…$/);
    i18n.set('zh-CN');
    expect(s.room.downText()).toContain('主播密钥被拒绝');
    b.emit('room', { kind: 'disconnected', reason: 'gone', retrying: false, problem: 'unreachable', retry_in_ms: null });
    expect(s.room.downText()).toBe('直播间离线：无法连接直播间服务器。请检查地址和网络。 (gone)');
    i18n.reset('en');
    s.dispose();
  });

  it('remembers settings: the first run shows until finished, choices are saved, Go Live uses them', async () => {
    const b = createMockBackend({ settings: { first_run_done: false, width: 1920, height: 1080, fps: 60, bitrate_kbps: 6000 } });
    const s = new Studio(b);
    await s.init();
    expect(s.settings.firstRun).toBe(true);
    expect(b.calls).toContainEqual({ cmd: 'preview_source', args: { video: 'test' } });
    await s.finishFirstRun({ camera: null, mic: null, destination: { url: 'rtmp://live.twitch.tv/app', key_name: 'main' }, mode: 'live' });
    expect(s.settings.firstRun).toBe(false);
    expect(b.saved.first_run_done).toBe(true);
    expect(b.saved.destinations).toEqual([{ url: 'rtmp://live.twitch.tv/app', key_name: 'main' }]);
    s.settings.setRecord(true);
    await Promise.resolve();
    expect(b.saved.record).toBe(true);
    await s.live.goLive();
    expect(b.settings).toMatchObject({ width: 1920, height: 1080, fps: 60, bitrate_kbps: 6000, record: true });
    await s.live.confirmEnd();
  });

  it('a camera that cannot open is explained in the preview, with what to do', async () => {
    const b = createMockBackend();
    b.previewSource = async () => {
      throw { code: 'device', message: 'camera:0 is busy' };
    };
    const s = new Studio(b);
    await s.init();
    await new Promise((r) => setTimeout(r, 0));
    expect(s.preview.error).toContain('Close other apps using it');
    expect(s.preview.error).toContain('camera:0 is busy');
    expect(s.app.error).toBeNull();
  });

  it('a timed lottery draws one winner when the time is up', async () => {
    vi.useFakeTimers();
    try {
      const b = createMockBackend();
      const s = new Studio(b);
      await s.init();
      await s.room.startLottery('666', 'Poster', 60);
      expect(s.room.lotteryEndsAt).toBeGreaterThan(Date.now());
      expect(s.room.lottery?.open).toBe(true);
      await vi.advanceTimersByTimeAsync(60_000);
      expect(b.calls).toContainEqual({ cmd: 'room_lottery_draw', args: { lottery: s.room.lottery!.lottery, winners: 1 } });
      expect(s.room.lotteryEndsAt).toBeNull();
      s.dispose();
    } finally {
      vi.useRealTimers();
    }
  });
});
