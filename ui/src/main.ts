import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { isTauri, tauriBackend, type Backend } from './lib/ipc';
import { createMockBackend } from './lib/mock';

async function start() {
  // Outside Tauri (a plain browser, `vite dev`) the UI runs on the mock backend in demo mode.
  const backend: Backend = isTauri() ? await tauriBackend() : createMockBackend({ demo: true });
  if (!isTauri() && location.hash === '#demo-live') {
    // A browser demo of the live state (screenshots): two destinations, then Go Live.
    localStorage.setItem('marquee.destinations', JSON.stringify([
      { url: 'rtmp://live-push.bilivideo.com/live-bvc', key_name: 'bilibili' },
      { url: 'rtmp://a.rtmp.youtube.com/live2', key_name: 'youtube' },
    ]));
    setTimeout(() => document.querySelector<HTMLButtonElement>('[data-testid="go-live"]')?.click(), 300);
  }
  mount(App, { target: document.getElementById('app')!, props: { backend } });
}

void start();
