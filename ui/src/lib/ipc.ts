// The backend the studio talks to: the app's commands and events over Tauri, or the mock
// (mock.ts: tests, and a plain browser). The commands (`Commands`, `invokeCommands`) and the
// events (`EventMap`) are generated from their declarations in src-tauri into
// `../bindings/` — never edit them there; declare a command in src-tauri/src/commands/mod.rs
// (an event in src-tauri/src/events.rs) and run `UPDATE_BINDINGS=1 cargo test -p marquee-app
// bindings`.

import type { AppError } from '../bindings';
import { invokeCommands, type Commands } from '../bindings/commands';
import type { EventMap } from '../bindings/events';

export type { EventMap };
export type Unlisten = () => void;

/** Every command, and the events. */
export interface Backend extends Commands {
  on<K extends keyof EventMap>(event: K, cb: (payload: EventMap[K]) => void): Promise<Unlisten>;
}

/** Whatever a command rejected with, as the app's one error type. */
export function toAppError(e: unknown): AppError {
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) {
    return { code: (e as AppError).code, message: String((e as AppError).message) };
  }
  return { code: 'internal', message: e instanceof Error ? e.message : String(e) };
}

export function isTauri(): boolean {
  return typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window;
}

/** The real backend: Tauri commands and events. */
export async function tauriBackend(): Promise<Backend> {
  const { invoke, Channel } = await import('@tauri-apps/api/core');
  const { listen } = await import('@tauri-apps/api/event');
  const commands = invokeCommands(
    async <T>(cmd: string, args?: Record<string, unknown>): Promise<T> => {
      try {
        return await invoke<T>(cmd, args);
      } catch (e) {
        throw toAppError(e);
      }
    },
    <T>(onMessage: (message: T) => void) => {
      const channel = new Channel<T>();
      channel.onmessage = onMessage;
      return channel;
    },
  );
  return {
    ...commands,
    on: (event, cb) => listen(event, (e) => cb(e.payload as never)),
  };
}

/** The Svelte context key under which App.svelte offers the backend to the few components
 *  that keep their own state in the app (e.g. PlaybackSettings). */
export const BACKEND = Symbol('backend');
