import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import App from '../App.svelte';
import type { ClipInfo, RecordingInfo, SuggestionList as SuggestionListData } from '../bindings';
import { i18n } from '../lib/i18n.svelte';
import { createMockBackend, demoClips, demoSuggestions } from '../lib/mock';
import ClipLibrary from './ClipLibrary.svelte';
import SuggestionList from './SuggestionList.svelte';
import { flush, goLiveRecording } from './test-app';


beforeEach(() => {
  localStorage.clear();
  i18n.reset('en-US');
});

const clip = (name: string, created: number, extra: Partial<ClipInfo> = {}): ClipInfo => ({
  name,
  path: `/v/clips/${name}`,
  duration_s: 30.4,
  bytes: 12_582_912,
  created_unix_s: created,
  width: 1280,
  height: 720,
  ...extra,
});

describe('ClipLibrary', () => {
  it('lists clips with thumbnail, duration and size; asks once for missing thumbnails', async () => {
    const onthumb = vi.fn();
    render(ClipLibrary, {
      clips: [clip('b.mp4', 200), clip('a.mp4', 100)],
      thumbs: { 'b.mp4': 'data:image/png;base64,AA==' },
      onthumb,
    });
    await flush();
    const rows = screen.getAllByTestId('clip');
    expect(rows.map((r) => r.dataset.name)).toEqual(['b.mp4', 'a.mp4']);
    expect(within(rows[0]).getByTestId('clip-thumb')).toHaveAttribute('src', 'data:image/png;base64,AA==');
    expect(rows[0]).toHaveTextContent('0:30');
    expect(rows[0]).toHaveTextContent('12.0 MB');
    expect(rows[0]).toHaveTextContent('1280×720');
    expect(onthumb.mock.calls).toEqual([['a.mp4']]);
  });

  it('the empty state says how clips get here', () => {
    render(ClipLibrary, { clips: [] });
    expect(screen.getByTestId('clips-empty')).toHaveTextContent('Press H while live');
  });

  it('rename: inline, refuses a taken or unusable name before asking, shows the engine’s error, Escape cancels', async () => {
    const onrename = vi.fn(async (_n: string, v: string) => (v === 'locked' ? 'The clips folder is read-only.' : null));
    render(ClipLibrary, { clips: [clip('a.mp4', 2), clip('goal.mp4', 1)], onrename });
    const row = screen.getAllByTestId('clip')[0];
    await fireEvent.click(within(row).getByTestId('clip-rename'));
    const input = within(row).getByTestId('rename-input') as HTMLInputElement;
    expect(input.value).toBe('a');
    expect(document.activeElement).toBe(input);

    await fireEvent.input(input, { target: { value: 'goal' } });
    await fireEvent.keyDown(input, { key: 'Enter' });
    expect(within(row).getByTestId('rename-error')).toHaveTextContent('A clip named “goal.mp4” already exists');
    await fireEvent.input(input, { target: { value: 'bad/name' } });
    await fireEvent.click(within(row).getByTestId('rename-save'));
    expect(within(row).getByTestId('rename-error')).toHaveTextContent('cannot start with a dot or contain');
    await fireEvent.input(input, { target: { value: '  ' } });
    await fireEvent.keyDown(input, { key: 'Enter' });
    expect(within(row).getByTestId('rename-error')).toHaveTextContent('Type a name');
    expect(onrename).not.toHaveBeenCalled();

    await fireEvent.input(input, { target: { value: 'locked' } });
    await fireEvent.keyDown(input, { key: 'Enter' });
    await flush();
    expect(within(row).getByTestId('rename-error')).toHaveTextContent('read-only');

    await fireEvent.input(input, { target: { value: 'Best moment' } });
    await fireEvent.keyDown(input, { key: 'Enter' });
    await flush();
    expect(onrename).toHaveBeenLastCalledWith('a.mp4', 'Best moment');
    expect(within(row).queryByTestId('rename-input')).toBeNull();

    await fireEvent.click(within(row).getByTestId('clip-rename'));
    await fireEvent.keyDown(within(row).getByTestId('rename-input'), { key: 'Escape' });
    expect(within(row).queryByTestId('rename-input')).toBeNull();
    expect(onrename).toHaveBeenCalledTimes(2);
  });

  it('delete asks first; Cancel keeps the clip', async () => {
    const ondelete = vi.fn();
    render(ClipLibrary, { clips: [clip('a.mp4', 1)], ondelete });
    await fireEvent.click(screen.getByTestId('clip-delete'));
    expect(screen.getByRole('alert')).toHaveTextContent('Delete “a.mp4”? This cannot be undone.');
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(ondelete).not.toHaveBeenCalled();
    await fireEvent.click(screen.getByTestId('clip-delete'));
    await fireEvent.click(screen.getByTestId('delete-confirm'));
    expect(ondelete).toHaveBeenCalledWith('a.mp4');
  });

  it('export: one clip, or the selected ones; the bar shows progress, then the report names failures', async () => {
    const onexport = vi.fn();
    const clips = [clip('a.mp4', 3), clip('b.mp4', 2), clip('c.mp4', 1)];
    const r = render(ClipLibrary, { clips, onexport });
    await fireEvent.click(within(screen.getAllByTestId('clip')[1]).getByTestId('clip-export'));
    expect(onexport).toHaveBeenLastCalledWith(['b.mp4']);
    expect(screen.getByTestId('export-selected')).toBeDisabled();
    await fireEvent.click(screen.getByLabelText('Select c.mp4'));
    await fireEvent.click(screen.getByLabelText('Select a.mp4'));
    expect(screen.getByTestId('export-selected')).toHaveTextContent('Export 2 as 9:16');
    await fireEvent.click(screen.getByTestId('export-selected'));
    expect(onexport).toHaveBeenLastCalledWith(['c.mp4', 'a.mp4']);
    await fireEvent.click(screen.getByLabelText('Select all'));
    expect(screen.getByTestId('export-selected')).toHaveTextContent('Export 3 as 9:16');

    await r.rerender({ clips, onexport, exporting: { names: ['a.mp4', 'b.mp4'], index: 1, total: 2, name: 'b.mp4', fraction: 0.42 } });
    const bar = screen.getByRole('progressbar');
    expect(bar).toHaveAttribute('aria-valuenow', '42');
    expect(screen.getByTestId('export-progress')).toHaveTextContent('Exporting 2 of 2: b.mp4');
    expect(screen.getByTestId('export-selected')).toBeDisabled();

    await r.rerender({ clips, onexport, exporting: null, report: { exported: [{ name: 'a.mp4', output: 'a-vertical.mp4' }], failed: [{ name: 'b.mp4', reason: 'no video picture' }] } });
    const done = screen.getByTestId('export-progress');
    expect(done).toHaveAttribute('data-state', 'done');
    expect(done).toHaveTextContent('Exported 1 as 9:16');
    expect(done).toHaveTextContent('1 could not be exported');
    expect(screen.getByTestId('export-failed')).toHaveTextContent('b.mp4 — no video picture');
  });
});

const rec = (name: string, has_signals = true): RecordingInfo => ({ name, duration_s: 3725, bytes: 1e9, created_unix_s: 1_795_242_757, has_signals });

describe('SuggestionList', () => {
  it('says when there are no recordings, and when nothing stood out', async () => {
    const r = render(SuggestionList, { recordings: [] });
    expect(screen.getByTestId('suggestions-empty')).toHaveTextContent('Turn on Record before going live');
    const empty: SuggestionListData = { recording: 'r.mkv', has_signals: false, items: [], discarded: 0 };
    await r.rerender({ recordings: [rec('r.mkv', false)], recording: 'r.mkv', list: empty });
    expect(screen.getByTestId('suggestions-empty')).toHaveTextContent('No moment stood out');
    expect(screen.getByText(/only loudness was used/)).toBeInTheDocument();
    await r.rerender({ recordings: [rec('r.mkv')], recording: 'r.mkv', loading: true });
    expect(screen.getByTestId('suggestions-loading')).toHaveTextContent('Finding highlights');
  });

  it('shows range, score and reason; Keep and Discard call back; kept ones name their clip', async () => {
    const onkeep = vi.fn();
    const ondiscard = vi.fn();
    const items = demoSuggestions();
    items[1] = { ...items[1], kept: 'r-39m50s-40m20s.mp4' };
    render(SuggestionList, { recordings: [rec('r.mkv')], recording: 'r.mkv', list: { recording: 'r.mkv', has_signals: true, items, discarded: 2 }, onkeep, ondiscard });
    const rows = screen.getAllByTestId('suggestion');
    expect(rows[0]).toHaveTextContent('21:03 – 21:33');
    expect(rows[0]).toHaveTextContent('peak 21:23');
    expect(rows[0]).toHaveTextContent('8.4');
    expect(rows[0]).toHaveTextContent('chat burst: 96 messages/s');
    expect(within(rows[1]).getByTestId('suggestion-kept')).toHaveTextContent('Kept as r-39m50s-40m20s.mp4');
    expect(within(rows[1]).queryByTestId('suggestion-keep')).toBeNull();
    await fireEvent.click(within(rows[0]).getByTestId('suggestion-keep'));
    expect(onkeep.mock.calls[0][0].at_s).toBe(1283);
    await fireEvent.click(within(rows[2]).getByTestId('suggestion-discard'));
    expect(ondiscard.mock.calls[0][0].at_s).toBe(3120);
    expect(screen.getByTestId('suggestions-discarded')).toHaveTextContent('2 discarded');
    expect(screen.getByTestId('recording-pick')).toHaveTextContent('1:02:05 · with room signals');
  });

  it('the reason reads in 简体中文', () => {
    i18n.set('zh-CN');
    render(SuggestionList, { recordings: [rec('r.mkv')], recording: 'r.mkv', list: { recording: 'r.mkv', has_signals: true, items: demoSuggestions(), discarded: 0 } });
    const reasons = screen.getAllByTestId('suggestion-reason').map((r) => r.textContent);
    expect(reasons).toEqual(['弹幕刷屏：每秒 96 条；音量高峰：-9 LUFS', '礼物价值 1000', '抽奖开奖', '投票结束']);
    expect(screen.getAllByTestId('suggestion-keep')[0]).toHaveTextContent('保留');
  });
});

describe('the clips drawer in the app', () => {
  it('L opens the library (newest first, thumbnails); export 9:16 shows progress and which clip failed', async () => {
    const b = createMockBackend({ clips: demoClips(1_795_242_757) });
    b.exportStepMs = 1;
    render(App, { backend: b });
    await flush();
    expect(screen.queryByTestId('clips-panel')).toBeNull();
    await fireEvent.keyDown(window, { key: 'l' });
    await flush();
    expect(screen.getByTestId('clips-panel')).toBeInTheDocument();
    expect(screen.getByTestId('open-clips')).toHaveAttribute('aria-pressed', 'true');
    await waitFor(() => expect(screen.getAllByTestId('clip-thumb').length).toBe(3));
    const names = screen.getAllByTestId('clip').map((r) => r.dataset.name);
    expect(names).toEqual(['broken-upload.mp4', 'highlight-20261121-101544.mp4', 'Boss fight win.mp4', 'highlight-20261120-213012.mp4']);
    // The clip FFmpeg cannot read has no picture, said on the clip itself.
    expect(within(screen.getAllByTestId('clip')[0]).getByText('No picture')).toBeInTheDocument();

    await fireEvent.click(screen.getByLabelText('Select broken-upload.mp4'));
    await fireEvent.click(screen.getByLabelText('Select Boss fight win.mp4'));
    await fireEvent.click(screen.getByTestId('export-selected'));
    await waitFor(() => expect(screen.getByTestId('export-progress')).toHaveAttribute('data-state', 'running'));
    await waitFor(() => expect(screen.getByTestId('export-progress')).toHaveAttribute('data-state', 'done'), { timeout: 3000 });
    // The batch went on past the broken clip.
    expect(screen.getByTestId('export-failed')).toHaveTextContent('broken-upload.mp4 — The vertical version could not be made');
    expect(screen.getByTestId('export-progress')).toHaveTextContent('Exported 1 as 9:16');
    await waitFor(() => expect(screen.getAllByTestId('clip').some((r) => r.dataset.name === 'Boss fight win-vertical.mp4')).toBe(true));
    expect(screen.getByText('9:16')).toBeInTheDocument();

    // Rename through the mock's own check (a taken name), then delete.
    const row = () => screen.getAllByTestId('clip').find((r) => r.dataset.name === 'highlight-20261121-101544.mp4')!;
    await fireEvent.click(within(row()).getByTestId('clip-delete'));
    await fireEvent.click(within(row()).getByTestId('delete-confirm'));
    await flush();
    expect(b.clips.some((c) => c.name === 'highlight-20261121-101544.mp4')).toBe(false);
    expect(screen.getAllByTestId('clip').map((r) => r.dataset.name)).not.toContain('highlight-20261121-101544.mp4');
    await fireEvent.keyDown(screen.getByTestId('clips-close'), { key: 'Escape' });
    expect(screen.queryByTestId('clips-panel')).toBeNull();
  });

  it('a saved highlight shows up in the library; after End the suggestions of the recording open; Keep cuts, Discard is remembered', async () => {
    const b = createMockBackend({ demo: false, clips: [] });
    b.suggestionsByRecording['marquee-20261121-101500.mkv'] = demoSuggestions();
    render(App, { backend: b });
    await flush();
    await fireEvent.click(screen.getByTestId('open-clips'));
    await flush();
    expect(screen.getByTestId('clips-empty')).toBeInTheDocument();
    await goLiveRecording();
    await fireEvent.keyDown(window, { key: 'h' });
    await flush();
    await waitFor(() => expect(screen.getAllByTestId('clip')).toHaveLength(1));
    expect(screen.getAllByTestId('clip')[0].dataset.name).toMatch(/^highlight-\d+\.mp4$/);

    await fireEvent.click(screen.getByTestId('end-live'));
    await fireEvent.click(screen.getByTestId('confirm-end'));
    await flush();
    await waitFor(() => expect(screen.getAllByTestId('suggestion')).toHaveLength(4));
    expect(screen.getByRole('tab', { name: /Suggestions/ })).toHaveAttribute('aria-selected', 'true');
    expect(b.calls).toContainEqual({ cmd: 'suggestions', args: { recording: 'marquee-20261121-101500.mkv' } });

    const first = screen.getAllByTestId('suggestion')[0];
    await fireEvent.click(within(first).getByTestId('suggestion-keep'));
    await waitFor(() => expect(within(screen.getAllByTestId('suggestion')[0]).getByTestId('suggestion-kept')).toHaveTextContent('marquee-20261121-101500-21m03s-21m33s.mp4'));
    expect(b.clips.map((c) => c.name)).toContain('marquee-20261121-101500-21m03s-21m33s.mp4');

    await fireEvent.click(within(screen.getAllByTestId('suggestion')[3]).getByTestId('suggestion-discard'));
    await flush();
    expect(screen.getAllByTestId('suggestion')).toHaveLength(3);
    // Checked again (or after a restart): the discarded one does not come back, the kept one stays kept.
    await fireEvent.click(screen.getByTestId('suggestions-refresh'));
    await flush();
    await waitFor(() => expect(screen.getAllByTestId('suggestion')).toHaveLength(3));
    expect(screen.getByTestId('suggestions-discarded')).toHaveTextContent('1 discarded');
    expect(within(screen.getAllByTestId('suggestion')[0]).getByTestId('suggestion-kept')).toBeInTheDocument();

    await fireEvent.click(screen.getByRole('tab', { name: /Library/ }));
    await flush();
    expect(screen.getAllByTestId('clip').map((r) => r.dataset.name)).toContain('marquee-20261121-101500-21m03s-21m33s.mp4');
  });
});
