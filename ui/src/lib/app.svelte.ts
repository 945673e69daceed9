// What every feature store shares: the backend, the error and notice toasts, and the devices
// (`app_info`, `list_devices`: src-tauri/src/commands/app.rs).

import type { AppError, Devices } from '../bindings';
import { t } from './i18n.svelte';
import { toAppError, type Backend } from './ipc';

export class AppStore {
  error = $state<AppError | null>(null);
  notice = $state<string | null>(null);
  devices = $state<Devices | null>(null);

  constructor(readonly backend: Backend) {}

  /** Shows what went wrong in the error toast. */
  fail(e: unknown) {
    this.error = toAppError(e);
  }

  async refreshDevices() {
    try {
      this.devices = await this.backend.listDevices();
    } catch (e) {
      this.fail(e);
    }
  }

  /** The streamer-facing text for the current error. */
  errorText(): string {
    const e = this.error;
    if (!e) return '';
    if (e.code === 'already_live' || e.code === 'not_live') return t(`error.${e.code}`);
    // What to do first, then what the engine said (it names the device, file or server).
    if (e.code === 'device' || e.code === 'network' || e.code === 'keychain') return `${t(`error.${e.code}`)} (${e.message})`;
    return e.message;
  }
}
