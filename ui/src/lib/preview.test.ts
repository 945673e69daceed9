import { describe, expect, it } from 'vitest';
import { base64, HEADER, parseHeader, PreviewSink } from './preview';

function message(index: number, capturedUnixMs: number): ArrayBuffer {
  const buf = new ArrayBuffer(HEADER + 6);
  const v = new DataView(buf);
  v.setUint32(0, index, true);
  v.setFloat64(4, capturedUnixMs, true);
  v.setUint16(12, 640, true);
  v.setUint16(14, 360, true);
  v.setUint32(16, 2500, true);
  v.setUint32(20, 7, true);
  new Uint8Array(buf, HEADER).set([0xff, 0xd8, 1, 2, 0xff, 0xd9]);
  return buf;
}

describe('preview', () => {
  it('reads the header the engine writes (src-tauri/src/preview.rs)', () => {
    expect(parseHeader(message(42, 1_700_000_000_123.5))).toEqual({
      index: 42,
      capturedUnixMs: 1_700_000_000_123.5,
      width: 640,
      height: 360,
      encodeUs: 2500,
      dropped: 7,
    });
    expect(parseHeader(new ArrayBuffer(10))).toBeNull();
  });

  it('keeps only the newest waiting picture and acks every one, drawn or not', async () => {
    let acks = 0;
    let drawn = 0;
    const decoded: number[] = [];
    const decode = (jpeg: Uint8Array) =>
      new Promise<CanvasImageSource>((r) => {
        decoded.push(jpeg.length);
        setTimeout(() => r({} as CanvasImageSource), 5);
      });
    const canvas = { isConnected: true, offsetParent: {}, width: 0, height: 0, getContext: () => ({ drawImage: () => drawn++ }) };
    const sink = new PreviewSink(() => acks++, decode);
    sink.attach(canvas as unknown as HTMLCanvasElement);
    sink.push(message(1, Date.now()));
    sink.push(message(2, 0));
    sink.push(message(3, 0)); // replaces 2, which is acked unseen
    expect(sink.metrics().skipped).toBe(1);
    for (let i = 0; i < 50 && acks < 3; i++) await new Promise((r) => setTimeout(r, 5));
    expect(acks).toBe(3);
    expect(decoded).toEqual([6, 6]); // the JPEG after the 24-byte header, never the header
    expect(drawn).toBe(2);
    expect(sink.metrics()).toMatchObject({ frames: 2, lastIndex: 3, skipped: 1 });
    expect(canvas.width).toBe(640);
  });

  it('encodes the JPEG as base64 exactly, also past the chunk size', () => {
    const bytes = new Uint8Array(70_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919 + (i >> 8)) & 0xff;
    const back = Uint8Array.from(atob(base64(bytes)), (c) => c.charCodeAt(0));
    expect(back).toEqual(bytes);
    expect(base64(new Uint8Array([0xff, 0xd8, 0x80, 0x9f]))).toBe('/9iAnw==');
  });
});
