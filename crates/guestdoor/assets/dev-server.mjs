// A developer tool, not part of Marquee: serves the guest page with a fake host so the page's
// screens can be seen and driven in a browser without the Rust host.
//
//   node crates/guestdoor/assets/dev-server.mjs [PORT]        (default 8790, on 127.0.0.1)
//
// The invite token picks what the fake host does (docs/costream.md names the codes):
//   /join/invite_unknown, /join/invite_expired, /join/invite_revoked  → /info answers that error
//   /join/slot_busy, host_not_live, bad_offer, too_large, not_sdp, too_many → the WHIP POST does
//   /join/badanswer  → 201 with an answer no browser accepts (the page shows error:bad_answer)
//   /join/echo…      → a real answer from the browser tab at /dev/host (open it first, in the same
//                      browser): it sends the guest's own camera and voice back as the return feed
//   any other token  → 201 with a well-formed answer whose candidate leads nowhere (the page
//                      waits 10 s for ICE, then shows error:network)
// The state the session polls is set for every session with
//   /dev/state?state=waiting|on_air|declined|removed|ended&muted=0|1
// and /dev/sessions lists the sessions open and those the page ended with DELETE.
// Port 0 takes a free port; the first line printed names the URL.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomUUID, createHash } from "node:crypto";

const DIR = dirname(fileURLToPath(import.meta.url));
const PORT = Number(process.argv[2] ?? process.env.PORT ?? 8790);
const INFO_ERRORS = { invite_unknown: 404, invite_expired: 410, invite_revoked: 410 };
const POST_ERRORS = { slot_busy: 409, host_not_live: 503, bad_offer: 400, too_large: 413, not_sdp: 415, too_many: 429 };
const TYPES = { js: "text/javascript", css: "text/css", html: "text/html; charset=utf-8" };

/** The strict policy a host can send with the page: its one inline script and style by hash. */
function policy(html) {
  const hash = (tag) => [...html.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, "g"))]
    .map((m) => `'sha256-${createHash("sha256").update(m[1]).digest("base64")}'`).join(" ");
  return `default-src 'self'; script-src 'self' ${hash("script")}; style-src 'self' ${hash("style")}; `
    + "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";
}

let shared = { state: "waiting", muted_by_host: false };
const sessions = new Map(); // id → token
const left = []; // ids ended by DELETE
const offers = []; // offers waiting for the /dev/host tab: { id, sdp, answer(sdp) }
const hostWaiters = []; // the host tab's pending GET /dev/offer
const pending = new Map(); // id → offer, until the host tab answers

const send = (res, status, body, type = "application/json", headers = {}) => {
  res.writeHead(status, { "Content-Type": type, "Cache-Control": "no-store", ...headers });
  res.end(typeof body === "string" ? body : JSON.stringify(body));
};
const fail = (res, code) => send(res, INFO_ERRORS[code] || POST_ERRORS[code],
  { code, message: `dev server: ${code}` });
const body = (req) => new Promise((resolve) => {
  const parts = [];
  req.on("data", (c) => parts.push(c));
  req.on("end", () => resolve(Buffer.concat(parts).toString()));
});

/** An answer that parses but cannot connect: the offer's m-lines mirrored, one candidate on a
 *  documentation address (TEST-NET-3) that nothing answers. */
function deadEndAnswer(offer) {
  const lines = offer.split(/\r?\n/);
  const out = ["v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0"];
  const bundle = lines.find((l) => l.startsWith("a=group:BUNDLE"));
  if (bundle) out.push(bundle);
  let mid = null;
  for (const l of lines) {
    if (l.startsWith("m=")) {
      if (mid !== null) out.push("a=end-of-candidates");
      const [kind, , proto] = l.slice(2).split(" ");
      const pt = kind === "video" ? lines.find((x) => /^a=rtpmap:\d+ VP8\/90000/.test(x)) : lines.find((x) => /^a=rtpmap:\d+ opus\/48000/.test(x));
      const n = pt ? pt.match(/^a=rtpmap:(\d+)/)[1] : "96";
      out.push(`m=${kind} 9 ${proto} ${n}`, "c=IN IP4 203.0.113.9", "a=ice-ufrag:deve", "a=ice-pwd:devpasswordfordevserver",
        "a=fingerprint:sha-256 " + Array.from({ length: 32 }, (_, i) => (i * 7 % 256).toString(16).padStart(2, "0").toUpperCase()).join(":"),
        "a=setup:passive", "a=sendrecv", "a=rtcp-mux", pt || `a=rtpmap:${n} VP8/90000`,
        "a=candidate:1 1 udp 2130706431 203.0.113.9 9 typ host");
      mid = "";
    } else if (l.startsWith("a=mid:")) out.push(l);
  }
  out.push("a=end-of-candidates");
  return out.join("\r\n") + "\r\n";
}

async function whip(req, res, token) {
  if (POST_ERRORS[token]) return fail(res, token);
  const sdp = await body(req);
  const id = randomUUID();
  const created = (answer) => {
    sessions.set(id, token);
    send(res, 201, answer, "application/sdp", { Location: `/join/${token}/whip/${id}` });
  };
  if (token === "badanswer") return created("this is not an SDP answer");
  if (!token.startsWith("echo")) return created(deadEndAnswer(sdp));
  const offer = { id, sdp, answer: created };
  const waiter = hostWaiters.find((w) => !w.destroyed);
  hostWaiters.length = 0; // the others are host tabs that went away
  if (waiter) send(waiter, 200, { id, sdp }); else offers.push(offer);
  pending.set(id, offer);
}

const HOST_PAGE = `<!doctype html><meta charset="utf-8"><title>dev host</title><p id="s">dev host: waiting for guests</p>
<script type="module">
// Answers each offer with the guest's own media sent back (an echo as the return feed).
for (;;) {
  const r = await fetch("/dev/offer"); if (r.status !== 200) continue;
  const { id, sdp } = await r.json();
  const pc = new RTCPeerConnection(); window.pcs = (window.pcs || []).concat(pc);
  pc.ontrack = (e) => { const tr = pc.getTransceivers().find((t) => t.receiver === e.receiver); tr.direction = "sendrecv"; tr.sender.replaceTrack(e.track); };
  await pc.setRemoteDescription({ type: "offer", sdp });
  await pc.setLocalDescription(await pc.createAnswer());
  await new Promise((ok) => { if (pc.iceGatheringState === "complete") ok(); pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && ok(); setTimeout(ok, 2000); });
  await fetch("/dev/answer?id=" + id, { method: "POST", body: pc.localDescription.sdp });
  document.getElementById("s").textContent = "dev host: answered " + pcs.length + " guest(s)";
}
</script>`;

const server = createServer(async (req, res) => {
  const url = new URL(req.url, "http://x");
  const p = url.pathname;
  let m;
  try {
    if ((m = p.match(/^\/join\/assets\/([\w.-]+)$/))) {
      const ext = m[1].split(".").pop();
      return send(res, 200, await readFile(join(DIR, m[1]), "utf8"), TYPES[ext] || "text/plain");
    }
    if (p === "/dev/state") {
      shared = { state: url.searchParams.get("state") || shared.state, muted_by_host: url.searchParams.get("muted") === "1" };
      return send(res, 200, shared);
    }
    if (p === "/dev/host") return send(res, 200, HOST_PAGE, TYPES.html);
    if (p === "/dev/sessions") return send(res, 200, { open: [...sessions.keys()], left });
    if (p === "/dev/offer") {
      const o = offers.shift();
      return o ? send(res, 200, { id: o.id, sdp: o.sdp }) : hostWaiters.push(res);
    }
    if (p === "/dev/answer") {
      const o = pending.get(url.searchParams.get("id"));
      pending.delete(url.searchParams.get("id"));
      if (o) o.answer(await body(req));
      return send(res, 200, {});
    }
    if ((m = p.match(/^\/join\/([\w-]+)\/?$/))) {
      const html = await readFile(join(DIR, "join.html"), "utf8");
      return send(res, 200, html, TYPES.html, { "Content-Security-Policy": policy(html) });
    }
    if ((m = p.match(/^\/join\/([\w-]+)\/info$/))) {
      if (INFO_ERRORS[m[1]]) return fail(res, m[1]);
      return send(res, 200, { slot: 1, host: "Dev Host 主播", expires_in_s: 7200 });
    }
    if ((m = p.match(/^\/join\/([\w-]+)\/whip$/)) && req.method === "POST") return whip(req, res, m[1]);
    if ((m = p.match(/^\/join\/([\w-]+)\/whip\/([\w-]+)$/))) {
      if (!sessions.has(m[2])) return send(res, 404, { code: "invite_unknown", message: "no such session" });
      if (req.method === "DELETE") { sessions.delete(m[2]); left.push(m[2]); return send(res, 200, {}); }
      return send(res, 200, { ...shared, slot: 1, message: "" });
    }
    send(res, 404, { code: "invite_unknown", message: "not found" });
  } catch (e) {
    send(res, 500, { code: "internal", message: String(e) });
  }
});
server.listen(PORT, "127.0.0.1", () => console.log(`guest page dev server: http://127.0.0.1:${server.address().port}/join/TOKEN`));
