// Builds the component harness (tests/browser/harness) into tests/browser/dist.
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: `${here}harness`,
  base: './',
  plugins: [svelte({ configFile: `${here}../../svelte.config.js` })],
  logLevel: 'warn',
  build: { outDir: `${here}dist`, emptyOutDir: true, target: 'es2022', sourcemap: false, minify: false },
});
