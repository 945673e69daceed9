// Shared steps of the component tests that drive the whole app on the mock backend.
import { fireEvent, render, screen } from '@testing-library/svelte';
import { tick } from 'svelte';
import App from '../App.svelte';
import { createMockBackend } from '../lib/mock';

/** Lets Svelte settle: a few ticks, then the task queue once. */
export const flush = async () => {
  for (let i = 0; i < 5; i++) await tick();
  await new Promise((r) => setTimeout(r, 0));
};

/** The app on a fresh mock backend, settled; the backend is returned to drive and inspect. */
export async function renderApp(opts?: Parameters<typeof createMockBackend>[0]) {
  const b = createMockBackend(opts);
  render(App, { backend: b });
  await flush();
  return b;
}

/** Goes live recording only (no destination), and lets it settle. */
export async function goLiveRecording() {
  await fireEvent.click(screen.getByRole('button', { name: 'Record' }));
  await fireEvent.click(screen.getByTestId('go-live'));
  await flush();
}
