import '@testing-library/jest-dom/vitest';
import { cleanup } from '@testing-library/svelte';
import { afterEach } from 'vitest';

afterEach(() => cleanup());

// jsdom has no object URLs; the clip thumbnails' `blob:` URLs only need to be unique here.
if (!URL.createObjectURL) {
  let n = 0;
  URL.createObjectURL = () => `blob:jsdom/${++n}`;
  URL.revokeObjectURL = () => {};
}
