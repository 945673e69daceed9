import { describe, expect, it } from 'vitest';
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
