// The e2e's picture helpers, checked against a code drawn as the engine draws it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { check, meanColour, pixels, readFrameCode, summary } from './picture.mjs';

function picture(width, height, index, sessionMs, corrupt = false) {
  const data = new Uint8Array(width * height * 4).fill(90);
  const c = Math.max(4, Math.floor(width / 64) & ~1);
  const sync = [[1, 0, 1, 0], [0, 1, 0, 1]];
  [index, sessionMs].forEach((value, row) => {
    const chk = check(value) ^ (corrupt && row === 1 ? 1 : 0);
    const bits = [...sync[row], ...Array.from({ length: 32 }, (_, i) => (value >>> i) & 1), ...Array.from({ length: 8 }, (_, i) => (chk >> i) & 1)];
    for (let y = (row + 1) * c; y < (row + 2) * c; y++) {
      bits.forEach((bit, i) => {
        for (let x = c / 2 + i * c; x < c / 2 + (i + 1) * c; x++) data.fill(bit ? 235 : 16, (y * width + x) * 4, (y * width + x) * 4 + 3);
      });
    }
  });
  return { width, height, data };
}

test('the frame code is read back, also with the top bit set', () => {
  assert.deepEqual(readFrameCode(picture(640, 360, 4321, 98_765)), { index: 4321, sessionMs: 98_765 });
  assert.deepEqual(readFrameCode(picture(640, 360, 0x8000_0001, 0xffff_fff0)), { index: 0x8000_0001, sessionMs: 0xffff_fff0 });
});

test('a wrong check or no code at all reads as null', () => {
  assert.equal(readFrameCode(picture(640, 360, 7, 1000, true)), null);
  assert.equal(readFrameCode({ width: 640, height: 360, data: new Uint8Array(640 * 360 * 4) }), null);
});

test('a screenshot at another size is resampled to the preview size and its code still reads', () => {
  // The picture as the page shows it, 1.5× larger, through PNG as WebDriver returns it.
  const small = picture(640, 360, 77, 123_456);
  const png = new PNG({ width: 960, height: 540 });
  for (let y = 0; y < 540; y++) {
    for (let x = 0; x < 960; x++) {
      const s = (Math.floor(y / 1.5) * 640 + Math.floor(x / 1.5)) * 4;
      png.data.set(small.data.subarray(s, s + 4), (y * 960 + x) * 4);
      png.data[(y * 960 + x) * 4 + 3] = 255;
    }
  }
  const back = pixels(PNG.sync.write(png).toString('base64'));
  assert.deepEqual(readFrameCode(back), { index: 77, sessionMs: 123_456 });
  assert.ok(summary(back).mean > 80);
  const bottom = meanColour(back, 0, 0.85, 0.1, 0.1);
  assert.ok(Math.abs(bottom.r - 90) < 1 && Math.abs(bottom.g - 90) < 1);
});
