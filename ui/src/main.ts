import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { isTauri, tauriBackend, type Backend } from './lib/ipc';

/** Inside the app: its commands and events. In a plain browser (no `window.__TAURI_INTERNALS__`,
 *  e.g. `npm --prefix ui run dev` opened in a browser) the mock backend in demo mode, loaded
 *  only then: the app's build never runs it. `#demo-live` also goes live with two destinations
 *  (screenshots). */
async function backend(): Promise<Backend> {
  if (isTauri()) return tauriBackend();
  const { createMockBackend } = await import('./lib/mock');
  if (location.hash === '#demo-live') {
    localStorage.setItem('marquee.destinations', JSON.stringify([
      { url: 'rtmp://live-push.bilivideo.com/live-bvc', key_name: 'bilibili' },
      { url: 'rtmp://a.rtmp.youtube.com/live2', key_name: 'youtube' },
    ]));
    setTimeout(() => document.querySelector<HTMLButtonElement>('[data-testid="go-live"]')?.click(), 300);
  }
  return createMockBackend({ demo: true });
}

async function start() {
  mount(App, { target: document.getElementById('app')!, props: { backend: await backend() } });
}

void start();
