// Unit tests of the guest page's pure logic: node --test crates/guestdoor/assets/join-logic.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  SERVER_CODES, PAGE_CODES, LANGS, pickLang, t, textKeys, errorText, errorCode, mediaErrorCode,
  validateName, inviteUrls, preferCodec, levelFromSamples, initialModel, reduce, stateName,
  stateText, isRetryable, stopsTracks,
} from "./join-logic.js";

const run = (...events) => events.reduce(reduce, initialModel());
const joined = (...more) => run({ type: "info_ok" }, { type: "join" }, { type: "answered" }, ...more);

test("both languages carry every text, and none is left empty where English has words", () => {
  const en = textKeys("en");
  for (const lang of LANGS) {
    assert.deepEqual(textKeys(lang).sort(), [...en].sort(), lang);
    for (const k of en) if (t("en", k)) assert.ok(t(lang, k), `${lang} ${k}`);
  }
  assert.notEqual(t("zh", "join"), t("en", "join"));
});

test("the language follows the browser unless the guest chose one", () => {
  assert.equal(pickLang("zh-CN", null), "zh");
  assert.equal(pickLang("zh-TW", undefined), "zh");
  assert.equal(pickLang("en-US", null), "en");
  assert.equal(pickLang("fr", null), "en");
  assert.equal(pickLang(undefined, null), "en");
  assert.equal(pickLang("zh-CN", "en"), "en");
  assert.equal(pickLang("en", "zh"), "zh");
  assert.equal(pickLang("en", "klingon"), "en");
});

test("every error code has its own title and hint in both languages", () => {
  for (const lang of LANGS) {
    const titles = new Set();
    for (const code of [...SERVER_CODES, ...PAGE_CODES]) {
      const { title, hint } = errorText(lang, code, 502);
      assert.ok(title && !title.startsWith("e."), `${lang} ${code}`);
      assert.ok(hint && !hint.startsWith("h."), `${lang} ${code}`);
      titles.add(title);
    }
    assert.equal(titles.size, SERVER_CODES.length + PAGE_CODES.length, `${lang}: titles are distinct`);
  }
  assert.match(errorText("en", "network").hint, /UDP/);
  assert.match(errorText("en", "network").hint, /TURN/);
  assert.match(errorText("en", "insecure").title, /https/);
  assert.match(errorText("en", "http", 502).hint, /502/);
  assert.equal(errorText("en", "no_such_code").title, errorText("en", "http").title);
});

test("a failure's code comes from the JSON body, else from the status the contract ties to it", () => {
  assert.equal(errorCode(410, '{"code":"invite_revoked","message":"x"}'), "invite_revoked");
  assert.equal(errorCode(410, '{"code":"invite_expired"}'), "invite_expired");
  assert.equal(errorCode(410, "<html>gone</html>"), "invite_expired");
  assert.equal(errorCode(503, ""), "host_not_live");
  assert.equal(errorCode(429, '{"code":"something_new"}'), "too_many");
  assert.equal(errorCode(502, "Bad Gateway"), "http");
  for (const [status, code] of [[404, "invite_unknown"], [409, "slot_busy"], [400, "bad_offer"],
    [413, "too_large"], [415, "not_sdp"]]) assert.equal(errorCode(status, "{}"), code);
});

test("camera and microphone failures map to what the guest can do about them", () => {
  assert.equal(mediaErrorCode("NotAllowedError"), "permission");
  assert.equal(mediaErrorCode("SecurityError"), "permission");
  assert.equal(mediaErrorCode("NotFoundError"), "no_device");
  assert.equal(mediaErrorCode("NotReadableError"), "device_busy");
});

test("a name is cleaned, counted in characters a person sees, and at most 32 of them", () => {
  assert.deepEqual(validateName("  Ada   Lovelace "), { ok: true, name: "Ada Lovelace", error: null });
  assert.equal(validateName("").ok, true);
  assert.equal(validateName(null).name, "");
  assert.equal(validateName("a\u0000b\nc").name, "ab c");
  assert.equal(validateName("张".repeat(32)).ok, true);
  assert.equal(validateName("😀".repeat(32)).ok, true, "an emoji is one character, not two UTF-16 units");
  assert.deepEqual(validateName("x".repeat(33)), { ok: false, name: "x".repeat(33), error: "name_long" });
});

test("the invite's URLs come from the page path, the token being its last segment", () => {
  const u = inviteUrls("/join/AbC-_123456789012345678");
  assert.equal(u.token, "AbC-_123456789012345678");
  assert.equal(u.info, "/join/AbC-_123456789012345678/info");
  assert.equal(u.assets, "/join/assets/");
  assert.equal(u.whip(""), "/join/AbC-_123456789012345678/whip");
  assert.equal(u.whip("张 三&x"), "/join/AbC-_123456789012345678/whip?name=%E5%BC%A0%20%E4%B8%89%26x");
  const sub = inviteUrls("/rooms/r1/join/tok/");
  assert.equal(sub.token, "tok");
  assert.equal(sub.info, "/rooms/r1/join/tok/info");
  assert.equal(sub.assets, "/rooms/r1/join/assets/");
  assert.equal(inviteUrls("/"), null);
  assert.equal(inviteUrls("/other/tok"), null);
});

test("VP8 goes first among the codecs, the others keep the browser's order", () => {
  const c = [{ mimeType: "video/H264", n: 1 }, { mimeType: "video/rtx" }, { mimeType: "video/VP8", n: 2 },
    { mimeType: "video/H264", n: 3 }, { mimeType: "video/vp8", n: 4 }];
  assert.deepEqual(preferCodec(c, "video/VP8").map((x) => x.n ?? x.mimeType), [2, 4, 1, "video/rtx", 3]);
  assert.deepEqual(preferCodec([{ mimeType: "video/H264" }], "video/VP8"), [{ mimeType: "video/H264" }]);
});

test("the meter reads silence as 0, full scale as 1 and -30 dBFS as the middle", () => {
  assert.equal(levelFromSamples(new Float32Array(128)), 0);
  assert.equal(levelFromSamples([]), 0);
  assert.equal(levelFromSamples(new Float32Array(128).fill(1)), 1);
  const mid = levelFromSamples(new Float32Array(128).fill(10 ** (-30 / 20)));
  assert.ok(Math.abs(mid - 0.5) < 1e-6, String(mid));
});

test("the states of a guest's way into the show, and their names", () => {
  assert.equal(stateName(initialModel()), "loading");
  assert.equal(stateName(run({ type: "info_ok" })), "preview");
  assert.equal(stateName(run({ type: "info_ok" }, { type: "join" })), "joining");
  assert.equal(stateName(joined()), "connecting");
  assert.equal(stateName(joined({ type: "ice", state: "checking" })), "connecting");
  assert.equal(stateName(joined({ type: "poll", body: { state: "waiting" } })), "connecting",
    "the host's word waits for media to flow");
  const up = joined({ type: "ice", state: "connected" });
  assert.equal(stateName(up), "connected");
  assert.equal(stateName(reduce(up, { type: "poll", body: { state: "waiting", muted_by_host: false } })), "waiting");
  const air = reduce(up, { type: "poll", body: { state: "on_air", muted_by_host: false } });
  assert.equal(stateName(air), "on_air");
  const muted = reduce(air, { type: "poll", body: { state: "on_air", muted_by_host: true } });
  assert.equal(stateName(muted), "muted_by_host");
  assert.equal(stateName(reduce(muted, { type: "poll", body: { state: "on_air", muted_by_host: false } })), "on_air");
  assert.equal(stateName(reduce(air, { type: "poll", body: { state: "bogus" } })), "on_air", "unknown words are ignored");
});

test("a dropped connection reads as reconnecting, and back as the host's word", () => {
  const air = joined({ type: "ice", state: "connected" }, { type: "poll", body: { state: "on_air" } });
  const down = reduce(air, { type: "ice", state: "disconnected" });
  assert.equal(stateName(down), "reconnecting");
  assert.equal(stateName(reduce(down, { type: "ice", state: "connected" })), "on_air");
  assert.equal(stateName(reduce(down, { type: "ice_timeout" })), "reconnecting", "the connect timeout is for the first connect");
  assert.equal(stateName(reduce(down, { type: "ice", state: "failed" })), "error:network");
});

test("a connection that worked and failed is redialed, shown as reconnecting until it is back", () => {
  const air = joined({ type: "ice", state: "connected" }, { type: "poll", body: { state: "on_air" } });
  const redial = reduce(air, { type: "redial" });
  assert.equal(stateName(redial), "reconnecting");
  const answered = reduce(redial, { type: "answered" });
  assert.equal(stateName(answered), "reconnecting");
  assert.equal(stateName(reduce(answered, { type: "ice", state: "checking" })), "reconnecting");
  assert.equal(stateName(reduce(answered, { type: "ice_timeout" })), "error:network", "a redial that never connects gives up");
  assert.equal(stateName(reduce(answered, { type: "ice", state: "connected" })), "on_air");
  assert.equal(stateName(reduce(redial, { type: "error", code: "invite_revoked" })), "error:invite_revoked");
  assert.equal(stateName(reduce(run({ type: "info_ok" }), { type: "redial" })), "preview", "only a joined guest redials");
});

test("ICE that fails or never connects is the network-blocked error", () => {
  assert.equal(stateName(joined({ type: "ice", state: "failed" })), "error:network");
  assert.equal(stateName(joined({ type: "ice_timeout" })), "error:network");
  assert.equal(stateName(joined({ type: "ice", state: "connected" }, { type: "ice_timeout" })), "connected");
});

test("the host's declined, removed and ended are final, as is leaving", () => {
  for (const s of ["declined", "removed", "ended"]) {
    const m = joined({ type: "ice", state: "connected" }, { type: "poll", body: { state: s } });
    assert.equal(stateName(m), s);
    assert.equal(stateName(reduce(m, { type: "poll", body: { state: "on_air" } })), s);
    assert.equal(stateName(reduce(m, { type: "ice", state: "failed" })), s);
    assert.ok(stopsTracks(s));
  }
  const left = joined({ type: "left" });
  assert.equal(stateName(left), "left");
  assert.equal(stateName(reduce(left, { type: "retry" })), "preview", "a guest who left can join again");
});

test("an error holds until the guest tries again", () => {
  const e = run({ type: "info_ok" }, { type: "join" }, { type: "error", code: "slot_busy" });
  assert.equal(stateName(e), "error:slot_busy");
  assert.equal(stateName(reduce(e, { type: "answered" })), "error:slot_busy");
  assert.equal(stateName(reduce(e, { type: "retry" })), "preview");
  assert.equal(stateName(reduce(e, { type: "retry", to: "loading" })), "loading");
  assert.equal(stateName(run({ type: "error", code: "invite_expired" })), "error:invite_expired");
  assert.ok(isRetryable("slot_busy") && isRetryable("network") && isRetryable("permission"));
  assert.ok(!isRetryable("invite_expired") && !isRetryable("invite_revoked") && !isRetryable("insecure"));
  assert.ok(stopsTracks("error:invite_revoked") && !stopsTracks("error:slot_busy") && !stopsTracks("on_air"));
});

test("every state name has a title in both languages", () => {
  const names = ["loading", "preview", "joining", "connecting", "connected", "waiting", "on_air",
    "muted_by_host", "reconnecting", "declined", "removed", "ended", "left", "error:network", "error:slot_busy"];
  for (const lang of LANGS) for (const n of names) {
    const { title } = stateText(lang, n);
    assert.ok(title && !title.startsWith("s.") && !title.startsWith("e."), `${lang} ${n}`);
  }
});
