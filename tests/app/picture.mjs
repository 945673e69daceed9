// Reading the preview as the streamer sees it: WebDriver element screenshots (PNG), scaled to
// the preview size, and the test card's frame code in them (crates/capture/src/pattern.rs
// `write_code`: two rows of cells, 4 sync, 32 data bits LSB first, 8 check bits, cell = width / 64).
// The preview is an MJPEG <img> whose pixels a page cannot read (WebKit refuses cross-origin
// multipart images in CORS mode), so the tests look at the screen instead.

import { PNG } from 'pngjs';

/** RGBA pixels of a PNG (base64, as WebDriver returns screenshots), resampled to `width`×`height`. */
export function pixels(base64, width = 640, height = 360) {
  const png = PNG.sync.read(Buffer.from(base64, 'base64'));
  const out = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(png.height - 1, Math.floor(((y + 0.5) * png.height) / height));
    for (let x = 0; x < width; x++) {
      const sx = Math.min(png.width - 1, Math.floor(((x + 0.5) * png.width) / width));
      const s = (sy * png.width + sx) * 4;
      out.set(png.data.subarray(s, s + 4), (y * width + x) * 4);
    }
  }
  return { width, height, data: out };
}

/** Mean brightness (0-255) and a hash of a picture. */
export function summary({ data }) {
  let h = 2166136261 >>> 0;
  let sum = 0;
  let n = 0;
  for (let i = 0; i < data.length; i += 4 * 97) {
    h = Math.imul(h ^ data[i] ^ (data[i + 1] << 8) ^ (data[i + 2] << 16), 16777619) >>> 0;
    sum += data[i] + data[i + 1] + data[i + 2];
    n++;
  }
  return { hash: h, mean: sum / 3 / n };
}

/** Mean R, G, B of a rectangle given in fractions of the picture. */
export function meanColour({ width, height, data }, fx, fy, fw, fh) {
  const [x0, y0, x1, y1] = [Math.floor(fx * width), Math.floor(fy * height), Math.floor((fx + fw) * width), Math.floor((fy + fh) * height)];
  let r = 0, g = 0, b = 0, n = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const p = (y * width + x) * 4;
      r += data[p]; g += data[p + 1]; b += data[p + 2]; n++;
    }
  }
  return { r: r / n, g: g / n, b: b / n };
}

const SYNC = [
  [true, false, true, false],
  [false, true, false, true],
];

export function check(v) {
  const rotl = (b, n) => ((b << n) | (b >>> (8 - n))) & 0xff;
  return (v & 0xff) ^ rotl((v >>> 8) & 0xff, 1) ^ rotl((v >>> 16) & 0xff, 2) ^ rotl((v >>> 24) & 0xff, 3) ^ 0xa5;
}

/** The frame code (source frame index, session time in ms) in a picture, or null. */
export function readFrameCode({ width, height, data }) {
  const c = Math.max(4, Math.floor(width / 64) & ~1);
  if (45 * c > width || 3 * c > height) return null;
  const values = [];
  for (let row = 0; row < 2; row++) {
    const bits = [];
    for (let i = 0; i < 44; i++) {
      // The inner half of the cell: edges ring after compression and scaling.
      const half = c >> 1;
      const x0 = half + i * c + (c >> 2);
      const y0 = (row + 1) * c + (c >> 2);
      let sum = 0;
      for (let y = y0; y < y0 + half; y++) {
        for (let x = x0; x < x0 + half; x++) {
          const p = (y * width + x) * 4;
          sum += (data[p] + data[p + 1] + data[p + 2]) / 3;
        }
      }
      bits.push(sum / (half * half) >= 128);
    }
    if (bits.slice(0, 4).some((b, i) => b !== SYNC[row][i])) return null;
    let v = 0;
    for (let i = 0; i < 32; i++) if (bits[4 + i]) v = (v | (1 << i)) >>> 0;
    let chk = 0;
    for (let i = 0; i < 8; i++) if (bits[36 + i]) chk |= 1 << i;
    if (chk !== check(v)) return null;
    values.push(v);
  }
  return { index: values[0], sessionMs: values[1] };
}
