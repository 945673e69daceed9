// The same fan-out as the room server, without the room: every danmaku is stamped with a seq and
// broadcast to every joined socket. `marquee room bench --url ws://127.0.0.1:PORT/room/bench/ws
// --secret-file ANY --server-pid PID` drives it exactly like the Rust server (it speaks just
// enough of the protocol: hello → welcome, danmaku → broadcast). No storage, no auth, no limits,
// so it is an upper bound for a plain fan-out on this machine.
//
// Usage: npm install && node peer-ws.mjs [port]
import { WebSocketServer } from "ws";

const port = Number(process.argv[2] || 18901);
const wss = new WebSocketServer({ port, host: "127.0.0.1", maxPayload: 64 * 1024 });
const joined = new Set();
let seq = 0;
wss.on("connection", (ws) => {
  ws.on("message", (data) => {
    let m;
    try { m = JSON.parse(data); } catch { ws.send('{"type":"error","code":"bad_json","message":"invalid JSON"}'); return; }
    if (m.type === "hello") {
      joined.add(ws);
      ws.send(JSON.stringify({ type: "welcome", room: "bench", epoch: 1, seq }));
    } else if (m.type === "danmaku" && joined.has(ws)) {
      seq += 1;
      const frame = JSON.stringify({ seq, epoch: 1, at: Date.now(), type: "danmaku", id: seq, user: { id: "p", name: "p", role: "moderator" }, text: String(m.text), color: "#ffffff", mode: "scroll" });
      for (const c of joined) if (c.readyState === 1) c.send(frame);
    }
  });
  ws.on("close", () => joined.delete(ws));
});
console.log(`peer on ws://127.0.0.1:${port}/room/bench/ws pid ${process.pid}`);
