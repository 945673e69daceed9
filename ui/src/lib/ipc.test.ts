import { describe, expect, it } from 'vitest';
import { invokeCommands } from '../bindings/commands';
import { isTauri, toAppError } from './ipc';

describe('ipc', () => {
  it('passes an AppError through and wraps anything else as internal', () => {
    expect(toAppError({ code: 'keychain', message: 'locked' })).toEqual({ code: 'keychain', message: 'locked' });
    expect(toAppError(new Error('boom'))).toEqual({ code: 'internal', message: 'boom' });
    expect(toAppError('plain')).toEqual({ code: 'internal', message: 'plain' });
  });

  it('knows it is not inside Tauri under jsdom', () => {
    expect(isTauri()).toBe(false);
  });
});

describe('generated command wrappers', () => {
  it('send the wire name with camelCase arguments, and callbacks as channels', async () => {
    const sent: { cmd: string; args?: Record<string, unknown> }[] = [];
    const invoke = async <T>(cmd: string, args?: Record<string, unknown>) => {
      sent.push({ cmd, args });
      return undefined as T;
    };
    const progress = () => {};
    const commands = invokeCommands(invoke, (onMessage) => ({ channel: onMessage }));
    await commands.appInfo();
    await commands.clipRename('a.mp4', 'b.mp4');
    await commands.clipExport(['a.mp4'], progress);
    expect(sent).toEqual([
      { cmd: 'app_info', args: undefined },
      { cmd: 'clip_rename', args: { name: 'a.mp4', newName: 'b.mp4' } },
      { cmd: 'clip_export', args: { names: ['a.mp4'], progress: { channel: progress } } },
    ]);
  });
});
