// The viewer page in headless Chromium (Playwright) against the real server binary:
// a viewer sends danmaku, a gift and a vote; they arrive at a Rust client (`marquee room watch`);
// after a reload the page is the same viewer and cannot vote again;
// a moderator pins the viewer's question, runs a lottery the viewer enters and wins, deletes the
// danmaku and the viewer's page drops it; the server is killed with -9 and restarted and the page
// resumes by itself.
//
// With MQ_ROOM_NODES=3 each room runs on three `marquee room serve` nodes of one cluster
// (Postgres and Redis started by `room_cluster_parts`, built beside MARQUEE_BIN), the host's page
// on the first node and the viewers' on the others; a kill -9 kills the first node, the room's
// first owner.
//
// Needs: the `marquee` binary (MARQUEE_BIN, built by `cargo build -p marquee-cli`), Chromium
// (`apt-get install chromium`, at /usr/bin/chromium or CHROMIUM), and `npm install` here.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const BIN = process.env.MARQUEE_BIN;
const CHROME = process.env.CHROMIUM || "/usr/bin/chromium";
if (!BIN || !existsSync(BIN)) throw new Error("set MARQUEE_BIN to the `marquee` binary built by: cargo build -p marquee-cli");
if (!existsSync(CHROME)) throw new Error("Chromium missing; install it with: apt-get install -y chromium");

const dir = mkdtempSync(join(tmpdir(), "mq-viewer-"));
const secretFile = join(dir, "room.secret");
writeFileSync(secretFile, "viewer-e2e-secret-0123456789");
const NODES = Number(process.env.MQ_ROOM_NODES || 1);
const PARTS = join(dirname(BIN), "room_cluster_parts");
if (NODES > 1 && !existsSync(PARTS)) throw new Error("MQ_ROOM_NODES needs room_cluster_parts beside MARQUEE_BIN; build it with: cargo build -p marquee-e2e --bin room_cluster_parts");
const procs = [];
const clusters = [];
after(async () => {
  for (const p of procs) p.kill("SIGKILL");
  // The cluster's parts stop (and remove their files) when their stdin closes.
  await Promise.all(clusters.map((p) => new Promise((r) => { if (p.exitCode !== null) r(); else { p.once("exit", r); p.stdin.end(); } })));
  rmSync(dir, { recursive: true, force: true });
});

function token(user, role) {
  return execFileSync(BIN, ["room", "token", "--room", "demo", "--user", user, "--role", role, "--secret-file", secretFile]).toString().trim();
}

/** Opens room "demo" as its host (a room opens only for its host or an admin key). */
async function openRoom(addr) {
  const r = await fetch(`http://${addr}/api/rooms/demo`, { method: "PUT", headers: { authorization: `Bearer ${token("host", "host")}` } });
  assert.equal(r.status, 200, await r.text());
}

/**
 * Room "demo" opened by its host on `marquee room serve`: one server with database NAME.db, or
 * (MQ_ROOM_NODES) that many nodes on a Postgres and a Redis of their own. `base(i)` is the page
 * for the i-th browser (on a cluster, node i); `kill(i)` and `start(i)` stop that server with -9
 * and start it again on its address and storage.
 */
async function startRoom(name) {
  let args = ["--db", join(dir, `${name}.db`)];
  let env = process.env;
  if (NODES > 1) {
    const parts = spawn(PARTS, [], { stdio: ["pipe", "pipe", "inherit"] });
    clusters.push(parts);
    const { store, bus } = JSON.parse(await lines(parts).until((l) => l.startsWith("{"), 60000));
    // The password-bearing URL through the environment, as a deployment passes it.
    args = ["--store", "env:MQ_ROOM_STORE", "--bus", bus];
    env = { ...process.env, MQ_ROOM_STORE: store };
  }
  const serve = async (listen) => {
    // A port just freed by a killed server may not be free yet: try again.
    for (let i = 0; i < 50; i++) {
      const p = spawn(BIN, ["room", "serve", "--listen", listen, ...args, "--secret-file", secretFile], { env });
      procs.push(p);
      try {
        const first = await lines(p).until((l) => l.startsWith("room server on "), 5000);
        return { proc: p, addr: first.split(" ")[3] };
      } catch { p.kill("SIGKILL"); await new Promise((r) => setTimeout(r, 100)); }
    }
    throw new Error("marquee room serve did not start on " + listen);
  };
  const nodes = [];
  for (let i = 0; i < NODES; i++) nodes.push(await serve("127.0.0.1:0"));
  await openRoom(nodes[0].addr);
  const node = (i) => nodes[i % NODES];
  return {
    base: (i) => `http://${node(i).addr}/room/demo`,
    async kill(i) {
      const { proc } = node(i);
      proc.kill("SIGKILL");
      if (proc.exitCode === null && proc.signalCode === null) await new Promise((r) => proc.once("exit", r));
    },
    async start(i) { nodes[i % NODES] = await serve(node(i).addr); },
  };
}

function lines(proc) {
  const out = [];
  const waiters = [];
  createInterface({ input: proc.stdout }).on("line", (l) => { out.push(l); for (const w of [...waiters]) w(); });
  return {
    out,
    until(pred, ms = 15000) {
      return new Promise((resolve, reject) => {
        const check = () => { const hit = out.find(pred); if (hit) { clearTimeout(timer); resolve(hit); return true; } return false; };
        const timer = setTimeout(() => reject(new Error("timed out; saw:\n" + out.join("\n"))), ms);
        if (!check()) waiters.push(check);
      });
    },
  };
}

test("viewer page: danmaku, gift, vote, question, lottery; moderator delete; resume after kill -9", async () => {
  // A room exists once its host (or an admin) opens it; here the viewers come first.
  const room = await startRoom("room");

  const watch = spawn(BIN, ["room", "watch", "--url", room.base(2), "--token", token("rust-watcher", "viewer"), "--json"]);
  procs.push(watch);
  const seen = lines(watch);

  const browser = await chromium.launch({ executablePath: CHROME, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] });
  try {
    const mod = await browser.newPage();
    await mod.goto(`${room.base(0)}#token=${token("mod1", "moderator")}`);
    await mod.waitForSelector("#status.live");
    await mod.evaluate(() => send({ type: "poll_start", question: "Which song?", options: ["A", "B"], duration_s: 60 }));

    const viewer = await browser.newPage();
    const errors = [];
    viewer.on("pageerror", (e) => errors.push(String(e)));
    await viewer.goto(room.base(1));
    await viewer.fill("[data-testid=nick]", "小明");
    await viewer.click("[data-testid=join]");
    await viewer.waitForSelector("#status.live");

    await viewer.fill("[data-testid=danmaku-input]", "hello from the page");
    await viewer.click("[data-testid=danmaku-send]");
    const dm = JSON.parse(await seen.until((l) => l.includes('"type":"danmaku"') && l.includes("hello from the page")));

    await viewer.click('[data-gift="rose"]');
    await seen.until((l) => l.includes('"type":"gift"') && l.includes('"gift":"rose"'));

    await viewer.waitForSelector('#poll .bar[data-option="1"]');
    await viewer.click('#poll .bar[data-option="1"]');
    await seen.until((l) => l.includes('"type":"poll_tally"') && l.includes('"tallies":[0,1]'));

    // The page keeps the identity it was issued: after a reload it is the same viewer (no new
    // nickname asked), and a second vote in the poll is refused.
    const me = await viewer.evaluate(() => S.me.id);
    await viewer.reload();
    await viewer.waitForSelector("#status.live");
    assert.equal(await viewer.evaluate(() => S.me.id), me);
    assert.ok(await viewer.isHidden("#join"));
    await viewer.click('#poll .bar[data-option="0"]');
    await viewer.waitForSelector("#chat li.sys:has-text('already_voted')");

    // Ask a question; the moderator pins it from the queue; the viewer's stage shows it.
    await viewer.fill("[data-testid=ask-input]", "第一次登台是什么时候?");
    await viewer.click("[data-testid=ask-send]");
    await mod.click("#questions li:has-text('第一次登台') .pin");
    await viewer.waitForSelector("#pinned:has-text('第一次登台')", { state: "visible" });

    // Lottery: the viewer enters with the keyword, the moderator draws, everyone sees the winner.
    await mod.evaluate(() => send({ type: "lottery_start", keyword: "我要抽奖", prize: "T恤" }));
    await viewer.click("[data-testid=lottery-enter]");
    await seen.until((l) => l.includes('"type":"lottery_count"') && l.includes('"entrants":1'));
    await mod.click("[data-testid=lottery-draw]");
    await viewer.waitForSelector("[data-testid=lottery-winners]:has-text('小明')");
    const drawn = JSON.parse(await seen.until((l) => l.includes('"type":"lottery_drawn"')));
    assert.deepEqual(drawn.lottery.winner_names, ["小明"]);

    // The moderator deletes the message; every view drops it.
    await viewer.waitForSelector(`#chat li[data-id="${dm.id}"]`);
    await mod.click(`#chat li[data-id="${dm.id}"] .del`);
    await viewer.waitForSelector(`#chat li[data-id="${dm.id}"]`, { state: "detached" });
    await seen.until((l) => l.includes('"type":"message_deleted"') && l.includes(`"id":${dm.id}`));

    // The server is killed with -9 and restarted: the page reconnects by itself and resumes
    // (no "reloaded" notice), then shows what is said next.
    // (On a cluster the viewer's node closes its connection once the room's lease runs out,
    // and the page may be back within a moment: every drop is counted.)
    await viewer.evaluate(() => {
      window.drops = 0;
      const st = document.getElementById("status");
      new MutationObserver(() => { if (!st.classList.contains("live")) window.drops++; }).observe(st, { attributes: true });
    });
    await room.kill(0);
    await viewer.waitForFunction(() => window.drops > 0, null, { timeout: 20000 });
    await room.start(0);
    await viewer.waitForSelector("#status.live", { timeout: 20000 });
    await mod.waitForSelector("#status.live", { timeout: 20000 });
    await mod.evaluate(() => send({ type: "danmaku", text: "after the restart" }));
    await viewer.waitForSelector("#chat li:has-text('after the restart')");
    const chat = await viewer.textContent("#chat");
    assert.ok(!chat.includes("Reloaded recent messages") && !chat.includes("已重新加载最近消息"), chat);

    // zh-CN and English.
    await viewer.click("#lang");
    const label = await viewer.textContent("[data-testid=danmaku-send]");
    assert.ok(label === "发送" || label === "Send");
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

// Commit–reveal, checked in the browser: the start shows only the commitment; after the draw the
// page's "verify" recomputes SHA-256(seed) and the draw (WebCrypto) and says ✓; a seed, a
// commitment or winners changed by a tampering server say ✗ (in English and in Chinese).
test("viewer page: a lottery draw verifies in the browser, and a tampered one does not", async () => {
  const room = await startRoom("lottery");
  const base = room.base(0);
  const browser = await chromium.launch({ executablePath: CHROME, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] });
  try {
    const host = await browser.newPage();
    await host.goto(`${base}#token=${token("host1", "host")}`);
    await host.waitForSelector("#status.live");
    await host.evaluate(() => send({ type: "lottery_start", keyword: "go", prize: "cap" }));
    await host.waitForSelector("[data-testid=lottery-commitment]");
    const viewers = [];
    for (const nick of ["Ann", "Bo", "小明"]) {
      const v = await browser.newPage();
      await v.goto(room.base(viewers.length + 1));
      await v.evaluate(() => localStorage.setItem("mq.lang", "en"));
      await v.reload();
      await v.fill("[data-testid=nick]", nick);
      await v.click("[data-testid=join]");
      await v.waitForSelector("#status.live");
      await v.click("[data-testid=lottery-enter]");
      viewers.push(v);
    }
    const page = viewers[0];
    // Before the draw: the commitment, no seed, nothing to verify.
    const atStart = await page.evaluate(() => ({ ...S.lottery }));
    assert.match(atStart.commitment, /^[0-9a-f]{64}$/);
    assert.equal(atStart.seed, undefined);
    assert.ok(await page.isHidden("[data-testid=lottery-seed]"));
    await host.waitForFunction(() => S.lottery && S.lottery.entrants === 3);
    await host.click("[data-testid=lottery-draw]");
    await page.waitForSelector("[data-testid=lottery-verify]");
    assert.ok(await page.isVisible("[data-testid=lottery-seed]"));

    const verify = async (p) => {
      await p.click("[data-testid=lottery-verify]");
      await p.waitForSelector("[data-testid=lottery-check][data-result]");
      return p.$eval("[data-testid=lottery-check]", (e) => [e.dataset.result, e.textContent]);
    };
    const [ok, okText] = await verify(page);
    assert.equal(ok, "verified");
    assert.ok(okText.startsWith("✔"), okText);
    await page.click("#lang");
    const [okZh, okZhText] = await verify(page);
    assert.equal(okZh, "verified");
    assert.ok(okZhText.includes("已验证"), okZhText);

    // The page checks the seed against the commitment it saw at the start: a seed changed by
    // one digit fails, and so does a draw that arrives with a new commitment to match it.
    const tamper = (p, fn) => p.evaluate(fn);
    await tamper(page, () => { S.lottery = { ...S.lottery, seed: (S.lottery.seed[0] === "0" ? "1" : "0") + S.lottery.seed.slice(1) }; renderLottery(); });
    const [bad, badText] = await verify(page);
    assert.equal(bad, "notcommitted");
    assert.ok(badText.startsWith("✘") && badText.includes("SHA-256"), badText);
    await tamper(page, async () => {
      const seed = "f".repeat(64);
      S.lottery = { ...S.lottery, seed, commitment: hex(await sha256(seed)) };
      renderLottery();
    });
    assert.equal((await verify(page))[0], "notcommitted");
    await page.reload();
    await page.waitForSelector("#status.live");
    // A reloaded page verifies from the room's history (the start and the draw).
    await page.waitForSelector("[data-testid=lottery-verify]");
    assert.equal((await verify(page))[0], "verified");

    // The right seed with other winners gives a mismatch.
    const other = viewers[1];
    await other.waitForSelector("[data-testid=lottery-verify]");
    assert.equal((await verify(other))[0], "verified");
    await tamper(other, () => {
      const all = S.drawn.entrants;
      const loser = all.find((u) => !S.lottery.winners.includes(u));
      S.lottery = { ...S.lottery, winners: [loser] }; renderLottery();
    });
    const [wrong, wrongText] = await verify(other);
    assert.equal(wrong, "mismatch");
    assert.ok(wrongText.startsWith("✘"), wrongText);

    // The page's own SHA-256 (for plain-http LAN pages without WebCrypto) matches WebCrypto.
    const same = await other.evaluate(async () => {
      const out = [];
      for (const s of ["", "abc", "a".repeat(55), "a".repeat(56), "a".repeat(64), "抽奖".repeat(40)]) {
        const bytes = new TextEncoder().encode(s);
        out.push(hex(sha256js(bytes)) === hex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))));
      }
      return out;
    });
    assert.deepEqual(same, same.map(() => true));
  } finally {
    await browser.close();
  }
});

// Badges a viewer cannot imitate: a nickname that claims a role is refused at join with the rule
// named (in English and in Chinese), the viewer joins under another name on the same page, and
// the badges on the page come from the role the room gave, not from a name.
test("viewer page: a nickname claiming a role is refused, and badges come from the room", async () => {
  const room = await startRoom("names");
  const base = room.base(0);
  const browser = await chromium.launch({ executablePath: CHROME, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] });
  try {
    const host = await browser.newPage();
    await host.goto(`${base}#token=${token("host1", "host")}`);
    await host.waitForSelector("#status.live");

    const page = await browser.newPage();
    await page.goto(room.base(1));
    await page.evaluate(() => localStorage.setItem("mq.lang", "en"));
    await page.reload();
    const refused = async (nick) => {
      await page.fill("[data-testid=nick]", nick);
      await page.click("[data-testid=join]");
      await page.waitForSelector("[data-testid=join-error][data-code]");
      return page.$eval("[data-testid=join-error]", (e) => [e.dataset.code, e.textContent]);
    };
    for (const nick of ["Host", "ＨＯＳＴ", " (Moderator) ", "Mod", "Admin", "Marquee"]) {
      const [code, text] = await refused(nick);
      assert.equal(code, "reserved_name", nick);
      assert.ok(text.includes("claims a role") && text.includes("Badges come only from the room"), text);
    }
    await page.click("#lang");
    for (const nick of ["主播", "房管", "管理员"]) {
      const [code, text] = await refused(nick);
      assert.equal(code, "reserved_name", nick);
      assert.ok(text.includes("徽章只由直播间授予"), text);
    }
    assert.ok(await page.isVisible("#join"));
    await page.fill("[data-testid=nick]", "Ghost");
    await page.click("[data-testid=join]");
    await page.waitForSelector("#status.live");
    assert.ok(await page.isHidden("#join"));

    await page.fill("[data-testid=danmaku-input]", "hello");
    await page.click("[data-testid=danmaku-send]");
    await host.evaluate(() => send({ type: "danmaku", text: "welcome" }));
    await page.waitForSelector("#chat li:has-text('welcome')");
    const badges = await page.$$eval("#chat li[data-id]", (lis) => lis.map((li) => [li.querySelector(".who").textContent, li.querySelector(".badge")?.dataset.role ?? null, li.querySelector(".badge")?.textContent ?? null]));
    assert.deepEqual(badges, [["Ghost:", null, null], ["host1:", "host", "主播"]]);
  } finally {
    await browser.close();
  }
});

// Moderators are people: the host appoints a viewer by id and her open page becomes the
// moderator view (slow mode, members-only, blocked words, mute, ban, delete, pin, the log);
// a phone opens a single-use invite link and moderates by touch; a revoked link does nothing;
// the appointment survives a server restart and the host removes it.
test("viewer page: an appointed moderator and an invited one moderate from desktop and phone", async () => {
  const room = await startRoom("mods");
  const base = room.base(0);
  const watch = spawn(BIN, ["room", "watch", "--url", room.base(2), "--token", token("rust-watcher2", "viewer"), "--json"]);
  procs.push(watch);
  const seen = lines(watch);
  const browser = await chromium.launch({ executablePath: CHROME, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] });
  const join_ = async (page, url, nick) => {
    await page.goto(url);
    await page.fill("[data-testid=nick]", nick);
    await page.click("[data-testid=join]");
    await page.waitForSelector("#status.live");
  };
  try {
    const host = await browser.newPage();
    await host.goto(`${base}#token=${token("host1", "host")}`);
    await host.waitForSelector("#status.live");
    const lily = await browser.newPage();
    const errors = [];
    lily.on("pageerror", (e) => errors.push(String(e)));
    await join_(lily, room.base(1), "Lily");
    const troll = await browser.newPage();
    await join_(troll, room.base(2), "Troll");
    assert.ok(await lily.isHidden("[data-testid=modpanel]"), "a viewer has no moderator view");

    // Appointed by id (as the app's chat menu does): her open page turns into the moderator view.
    const lilyId = await lily.evaluate(() => S.me.id);
    await host.evaluate((id) => send({ type: "appoint", user: id }), lilyId);
    await lily.waitForSelector("[data-testid=modpanel]", { state: "visible" });
    await lily.waitForSelector("#chat li.sys:has-text('moderator')");

    // Slow mode and members-only from the panel reach the room.
    await lily.selectOption("[data-testid=mod-slow]", "5");
    await seen.until((l) => l.includes('"type":"settings_changed"') && l.includes('"slow_mode_s":5'));
    await host.waitForFunction(() => document.getElementById("slow").value === "5");
    await lily.selectOption("[data-testid=mod-slow]", "0");
    await seen.until((l) => l.includes('"type":"settings_changed"') && l.includes('"slow_mode_s":0'));
    await lily.fill("[data-testid=mod-word]", "spoiler");
    await lily.click("[data-testid=mod-block]");
    await seen.until((l) => l.includes('"type":"blocked_words_changed"') && l.includes('"count":1'));
    await troll.fill("[data-testid=danmaku-input]", "buy followers");
    await troll.click("[data-testid=danmaku-send]");
    const msg = JSON.parse(await seen.until((l) => l.includes('"type":"danmaku"') && l.includes("buy followers")));
    await lily.check("[data-testid=mod-modsonly]");
    await seen.until((l) => l.includes('"type":"settings_changed"') && l.includes('"mods_only":true'));
    await troll.fill("[data-testid=danmaku-input]", "still here");
    await troll.click("[data-testid=danmaku-send]");
    await troll.waitForSelector("#chat li.sys:has-text('mods_only')");
    await lily.uncheck("[data-testid=mod-modsonly]");
    await seen.until((l) => l.includes('"type":"settings_changed"') && l.includes('"mods_only":false'));

    // Mute from the message's buttons, then delete it; a question pinned.
    await lily.click(`#chat li[data-id="${msg.id}"] .mute`);
    await seen.until((l) => l.includes('"type":"user_timed_out"'));
    await lily.click(`#chat li[data-id="${msg.id}"] .del`);
    await troll.waitForSelector(`#chat li[data-id="${msg.id}"]`, { state: "detached" });
    await host.evaluate(() => send({ type: "ask", text: "Encore?" }));
    await lily.click("#questions li:has-text('Encore') .pin");
    await troll.waitForSelector("#pinned:has-text('Encore')", { state: "visible" });
    // Her log lists what she did, with her as the actor.
    await lily.click("[data-testid=modlog-refresh]");
    for (const action of ["settings", "block_words", "timeout", "delete", "pin_question"]) {
      await lily.waitForSelector(`#modlog li[data-action="${action}"]:has-text("${lilyId}")`);
    }

    // The host mints an invite on the page; a phone opens it while joining and moderates by touch.
    await host.click("[data-testid=mod-invite]");
    await host.waitForSelector("[data-testid=mod-invite-link]:not(.hidden)");
    const link = await host.inputValue("[data-testid=mod-invite-link]");
    assert.match(link, /#mod=[0-9a-f]{32}$/);
    const phoneCtx = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const phone = await phoneCtx.newPage();
    await join_(phone, link, "Phone");
    await phone.waitForSelector("[data-testid=modpanel]", { state: "visible" });
    assert.ok(!phone.url().includes("#mod="), "the code is taken off the address");
    const wide = await phone.evaluate(() => [...document.querySelectorAll("body *")].filter((e) => e.getBoundingClientRect().right > 391).map((e) => e.tagName + "#" + e.id + "." + e.className));
    assert.deepEqual(wide, [], "no sideways scrolling on a phone");
    // (The mute lifted first, so that the troll can speak again.)
    await host.evaluate((id) => send({ type: "unban", user: id }), await troll.evaluate(() => S.me.id));
    await seen.until((l) => l.includes('"type":"user_unbanned"'));
    await troll.evaluate(() => send({ type: "danmaku", text: "nobody stops me" }));
    const last = JSON.parse(await seen.until((l) => l.includes('"type":"danmaku"') && l.includes("nobody stops me")));
    await phone.tap(`#chat li[data-id="${last.id}"] .ban`);
    await seen.until((l) => l.includes('"type":"user_banned"'));
    await troll.waitForSelector("#chat li.sys:has-text('banned')");

    // The same link again, or a revoked one, makes nobody a moderator.
    const again = await browser.newPage();
    await join_(again, link, "Again");
    await again.waitForSelector("#chat li.sys:has-text('not_found')");
    assert.ok(await again.isHidden("[data-testid=modpanel]"));
    await host.click("[data-testid=mod-invite]");
    await host.waitForFunction((old) => document.getElementById("mod-invite-link").value !== old, link);
    const link2 = await host.inputValue("[data-testid=mod-invite-link]");
    await host.evaluate((code) => send({ type: "mod_invite_revoke", code }), link2.split("#mod=")[1]);
    const late = await browser.newPage();
    await join_(late, link2, "Late");
    await late.waitForSelector("#chat li.sys:has-text('not_found')");
    assert.ok(await late.isHidden("[data-testid=modpanel]"));

    // A restart keeps the appointment: her page comes back as a moderator; then the host removes her.
    await room.kill(0);
    await room.start(0);
    await lily.reload();
    await lily.waitForSelector("#status.live");
    await lily.waitForSelector("[data-testid=modpanel]", { state: "visible" });
    assert.equal(await lily.evaluate(() => S.me.role), "moderator");
    await host.waitForSelector("#status.live", { timeout: 20000 });
    await host.evaluate((id) => send({ type: "unappoint", user: id }), lilyId);
    await lily.waitForSelector("[data-testid=modpanel]", { state: "hidden" });
    assert.equal(await lily.evaluate(() => S.me.role), "viewer");
    assert.deepEqual(errors, []);
    await phoneCtx.close();
  } finally {
    await browser.close();
  }
});
