// The same fan-out as the room server, without the room: every danmaku is stamped with a seq and
// broadcast to every joined socket. `marquee room bench --url ws://127.0.0.1:PORT/room/bench/ws
// --secret-file ANY --server-pid PID` drives it exactly like the Rust server (it speaks just
// enough of the protocol: hello → welcome, danmaku → broadcast). No storage, no auth, no limits,
// so it is an upper bound for a plain fan-out on this machine.
//
// Broadcasts are coalesced by the server's rule (docs/protocol.md, "Batches"): the first after a
// quiet window goes at once, later ones wait for the window (20 ms, or subscribers / 150 000 s,
// at most 100 ms) and go together — as one `batch` frame to clients whose hello said
// `"batch": true`, one frame each (corked into one write) to the others. `--coalesce-ms 0` sends
// every broadcast at once, as the server does with `--coalesce-ms 0`.
//
// Usage: npm install && node peer-ws.mjs [port] [--coalesce-ms 20]
import { WebSocketServer } from "ws";

const args = process.argv.slice(2);
const port = Number(args.find((a) => /^\d+$/.test(a)) || 18901);
const ci = args.indexOf("--coalesce-ms");
const minWindow = ci >= 0 ? Number(args[ci + 1]) : 20;
const wss = new WebSocketServer({ port, host: "127.0.0.1", maxPayload: 64 * 1024 });
const joined = new Map(); // socket → wants batch frames
let seq = 0;
let pending = [];
let lastFlush = -Infinity;
let timer = null;

function windowMs() {
  if (minWindow === 0) return 0;
  return Math.min(Math.max(minWindow, (joined.size / 150000) * 1000), Math.max(100, minWindow));
}

function flush() {
  timer = null;
  if (pending.length === 0) return;
  const frames = pending;
  pending = [];
  lastFlush = performance.now();
  const batch = frames.length > 1 ? `{"type":"batch","messages":[${frames.join(",")}]}` : frames[0];
  for (const [c, wantsBatch] of joined) {
    if (c.readyState !== 1) continue;
    if (wantsBatch || frames.length === 1) c.send(batch);
    else { c._socket.cork(); for (const f of frames) c.send(f); c._socket.uncork(); }
  }
}

function broadcast(frame) {
  pending.push(frame);
  const wait = lastFlush + windowMs() - performance.now();
  if (wait <= 0 || pending.length >= 256) flush();
  else if (!timer) timer = setTimeout(flush, wait);
}

wss.on("connection", (ws) => {
  ws.on("message", (data) => {
    let m;
    try { m = JSON.parse(data); } catch { ws.send('{"type":"error","code":"bad_json","message":"invalid JSON"}'); return; }
    if (m.type === "hello") {
      ws.send(JSON.stringify({ type: "welcome", room: "bench", epoch: 1, seq }));
      joined.set(ws, m.batch === true);
    } else if (m.type === "danmaku" && joined.has(ws)) {
      seq += 1;
      broadcast(JSON.stringify({ seq, epoch: 1, at: Date.now(), type: "danmaku", id: seq, user: { id: "p", name: "p", role: "moderator" }, text: String(m.text), color: "#ffffff", mode: "scroll" }));
    }
  });
  ws.on("close", () => joined.delete(ws));
});
console.log(`peer on ws://127.0.0.1:${port}/room/bench/ws pid ${process.pid} coalesce ${minWindow} ms`);
