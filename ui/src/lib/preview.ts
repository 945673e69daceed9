// The preview's receiving end: JPEG pictures from the engine (raw bytes over a Tauri channel,
// see src-tauri/src/preview.rs for the 24-byte header), decoded through one reused <img>
// (a data: URL, `dataUrlDecoder`) and drawn on a canvas. Only the newest picture waits; each drawn one is
// acknowledged so the next may come (the app sends at most two ahead).
//
// It also measures what the viewer of the preview sees: frames per second and capture→display
// latency (the header's capture wall time vs. now, after the draw), exposed as `metrics()` and,
// for the end-to-end test and the benchmark, as `window.__marqueePreview`.

export const HEADER = 24;

export interface PreviewHeader {
  index: number;
  capturedUnixMs: number;
  width: number;
  height: number;
  encodeUs: number;
  dropped: number;
}

export function parseHeader(buf: ArrayBuffer): PreviewHeader | null {
  if (buf.byteLength < HEADER + 4) return null;
  const v = new DataView(buf, 0, HEADER);
  return {
    index: v.getUint32(0, true),
    capturedUnixMs: v.getFloat64(4, true),
    width: v.getUint16(12, true),
    height: v.getUint16(14, true),
    encodeUs: v.getUint32(16, true),
    dropped: v.getUint32(20, true),
  };
}

export interface PreviewMetrics {
  frames: number;
  /** Pictures drawn per second over the last 2 s. */
  fps: number;
  /** Capture→display latency over the last 120 pictures, ms. */
  latencyP50: number;
  latencyP95: number;
  /** Engine time to scale and encode a picture, p50, ms. */
  encodeP50: number;
  /** Pictures that arrived while another was waiting (replaced, never drawn). */
  skipped: number;
  /** Pictures the engine did not send because the previous ones were not drawn yet. */
  notSent: number;
  lastIndex: number;
}

const now = () => performance.timeOrigin + performance.now();

function quantile(xs: number[], q: number): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

/** Base64 of bytes (chunked: `fromCharCode` takes a bounded number of arguments). */
export function base64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/**
 * Decodes each JPEG through one reused <img> and a data: URL. Not `createImageBitmap(new
 * Blob(…))`: WebKit registers every Blob's bytes with its network process and reads them back
 * from there, so 30 blobs a second cost two extra copies each and grew the network process
 * by ~1 MiB a minute while live (docs/benchmarks.md). A data: URL is decoded in the page's own
 * process, and the one element holds one decoded picture.
 */
export function dataUrlDecoder(): (jpeg: Uint8Array) => Promise<CanvasImageSource> {
  let img: HTMLImageElement | null = null;
  return async (jpeg) => {
    img ??= new Image();
    img.src = `data:image/jpeg;base64,${base64(jpeg)}`;
    await img.decode();
    return img;
  };
}

export class PreviewSink {
  /** Every canvas showing the preview (the studio's, and the first-run wizard's). */
  private canvases = new Set<HTMLCanvasElement>();
  private busy = false;
  private pending: ArrayBuffer | null = null;
  private drawn: number[] = [];
  private latencies: number[] = [];
  private encodes: number[] = [];
  private frames = 0;
  private skipped = 0;
  private notSent = 0;
  private lastIndex = -1;
  /** Called after each drawn picture (the UI shows "live preview" once this fires). */
  onframe: ((m: PreviewMetrics) => void) | null = null;

  constructor(
    private ack: () => void,
    private decode: (jpeg: Uint8Array) => Promise<CanvasImageSource> = dataUrlDecoder(),
  ) {
    if (typeof window !== 'undefined') {
      const w = window as unknown as { __marqueePreview: () => PreviewMetrics; __marqueePreviewReset: () => void };
      w.__marqueePreview = () => this.metrics();
      w.__marqueePreviewReset = () => this.reset();
    }
  }

  attach(canvas: HTMLCanvasElement) {
    this.canvases.add(canvas);
  }

  detach(canvas: HTMLCanvasElement) {
    this.canvases.delete(canvas);
  }

  /** A message from the channel. */
  push(buf: ArrayBuffer) {
    if (this.busy) {
      if (this.pending) {
        this.skipped++;
        this.ack();
      }
      this.pending = buf;
      return;
    }
    void this.draw(buf);
  }

  private async draw(buf: ArrayBuffer) {
    this.busy = true;
    try {
      const h = parseHeader(buf);
      // Only visible canvases are drawn (a hidden window or a covered studio costs nothing).
      const targets = [...this.canvases].filter((c) => c.isConnected && c.offsetParent !== null);
      if (h && targets.length) {
        const img = await this.decode(new Uint8Array(buf, HEADER));
        for (const c of targets) {
          if (c.width !== h.width || c.height !== h.height) {
            c.width = h.width;
            c.height = h.height;
          }
          c.getContext('2d')?.drawImage(img, 0, 0, h.width, h.height);
        }
        const t = now();
        this.frames++;
        this.lastIndex = h.index;
        this.notSent = h.dropped;
        this.drawn.push(t);
        while (this.drawn.length && this.drawn[0] < t - 2000) this.drawn.shift();
        this.latencies.push(t - h.capturedUnixMs);
        if (this.latencies.length > 120) this.latencies.shift();
        this.encodes.push(h.encodeUs / 1000);
        if (this.encodes.length > 120) this.encodes.shift();
        this.onframe?.(this.metrics());
      }
    } catch {
      /* a broken picture: skip it */
    } finally {
      this.ack();
      this.busy = false;
      const next = this.pending;
      this.pending = null;
      if (next) void this.draw(next);
    }
  }

  metrics(): PreviewMetrics {
    const span = this.drawn.length > 1 ? (this.drawn[this.drawn.length - 1] - this.drawn[0]) / 1000 : 0;
    return {
      frames: this.frames,
      fps: span > 0 ? (this.drawn.length - 1) / span : 0,
      latencyP50: quantile(this.latencies, 0.5),
      latencyP95: quantile(this.latencies, 0.95),
      encodeP50: quantile(this.encodes, 0.5),
      skipped: this.skipped,
      notSent: this.notSent,
      lastIndex: this.lastIndex,
    };
  }

  /** Forget the numbers (a new session). */
  reset() {
    this.drawn = [];
    this.latencies = [];
    this.encodes = [];
    this.frames = 0;
    this.skipped = 0;
  }
}
