// Run before the guest page's own scripts: getUserMedia answers with a camera and a microphone
// made here from one clock, like the native guest's `--video test --audio tone`, so lip sync
// can be read from the program's content. Chromium's fake devices cannot do that: its y4m and
// WAV files start and loop independently.
//
// The camera (a canvas, 640×360) shows the frame code of marquee_capture::pattern (two rows of
// cells: the frame index from 2,000,000, and the milliseconds since the clock began) in each
// frame it hands out, about 30 a second. The microphone (WebAudio, 48 kHz) is a 1000 Hz sine at
// -12 dBFS, silent for 20 ms from each whole second of the same clock — the tone's mark (its
// edges ramped over 2 ms, ending at the second: Chromium's Opus smears a hard edge's noise
// into a silence that short, and the marks could not be told from the tone). The
// frame whose code says k·1000 ms is drawn at the first display frame at or after second k;
// how much after is kept in `window.marqueeSynced.late[k]` (ms), for the test to take off.
// The two clocks meet through AudioContext.currentTime read against performance.now(): its
// least difference is when a render quantum was just handed on.
(() => {
  const W = 640, H = 360, CELL = 10, FIRST_INDEX = 2000000, HZ = 1000, LEVEL = 0.25, MARK_S = 0.02;
  const RAMP_S = 0.002;
  const SYNC = [[1, 0, 1, 0], [0, 1, 0, 1]];
  const rotl8 = (x, n) => ((x << n) | (x >>> (8 - n))) & 255;
  const check = (v) => (v & 255) ^ rotl8((v >>> 8) & 255, 1) ^ rotl8((v >>> 16) & 255, 2) ^ rotl8((v >>> 24) & 255, 3) ^ 0xa5;

  function drawCode(g, index, ms) {
    [index, ms].forEach((value, row) => {
      const bits = [...SYNC[row]];
      for (let i = 0; i < 32; i++) bits.push((value >>> i) & 1);
      const c = check(value >>> 0);
      for (let i = 0; i < 8; i++) bits.push((c >>> i) & 1);
      bits.forEach((bit, i) => {
        g.fillStyle = bit ? "rgb(235,235,235)" : "rgb(16,16,16)";
        g.fillRect(CELL / 2 + i * CELL, (row + 1) * CELL, CELL, CELL);
      });
    });
  }

  const state = { late: {}, second: 0, frames: 0, offsetMs: null };
  window.marqueeSynced = state;
  let made = null;

  async function make() {
    const ac = new AudioContext({ sampleRate: 48000, latencyHint: "interactive" });
    await ac.resume();
    const osc = new OscillatorNode(ac, { frequency: HZ });
    const gain = new GainNode(ac, { gain: LEVEL });
    const dest = ac.createMediaStreamDestination();
    osc.connect(gain).connect(dest);
    osc.start();
    // performance.now() − currentTime at its least over 300 ms of polling.
    let offset = Infinity;
    const until = performance.now() + 300;
    while (performance.now() < until) {
      offset = Math.min(offset, performance.now() - ac.currentTime * 1000);
      await new Promise((r) => setTimeout(r, 1));
    }
    state.offsetMs = offset;
    // The clock starts on a whole millisecond half a second ahead; marks for 10 minutes.
    const start = Math.ceil(performance.now() + 500);
    for (let k = 1; k <= 600; k++) {
      const at = (start + k * 1000 - offset) / 1000;
      gain.gain.setValueAtTime(LEVEL, at - RAMP_S);
      gain.gain.linearRampToValueAtTime(0, at);
      gain.gain.setValueAtTime(0, at + MARK_S);
      gain.gain.linearRampToValueAtTime(LEVEL, at + MARK_S + RAMP_S);
    }

    const canvas = document.createElement("canvas");
    canvas.width = W;
    canvas.height = H;
    const g = canvas.getContext("2d");
    const stream = canvas.captureStream(0);
    const track = stream.getVideoTracks()[0];
    let lastFrame = -Infinity;
    const frame = () => {
      const now = performance.now();
      const ms = now - start;
      const k = Math.floor(ms / 1000);
      let code = null;
      if (ms >= 0 && k > state.second) {
        code = k * 1000;
        state.second = k;
        state.late[k] = ms - code;
      } else if (now - lastFrame >= 32) {
        // Never a whole second: only the frame drawn for it may say one.
        code = Math.max(0, Math.round(ms)) % 1000 === 0 ? Math.round(ms) + 1 : Math.max(0, Math.round(ms));
      }
      if (code !== null) {
        g.fillStyle = `hsl(${(ms / 20) % 360}, 60%, 45%)`;
        g.fillRect(0, 0, W, H);
        drawCode(g, FIRST_INDEX + state.frames, code);
        state.frames += 1;
        track.requestFrame();
        lastFrame = now;
      }
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
    return [track, dest.stream.getAudioTracks()[0]];
  }

  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (want) => {
    made = made || make().catch((e) => { window.marqueeSyncedError = String(e); throw e; });
    const [video, audio] = await made;
    const tracks = [];
    if (want && want.video) tracks.push(video);
    if (want && want.audio) tracks.push(audio);
    return tracks.length ? new MediaStream(tracks) : real(want);
  };
})();
