// Component flows in headless Chromium (playwright-core + /usr/bin/chromium): the harness is
// built, served, and driven; callbacks are checked through window.__events. Screenshots of
// every state (en and zh-CN) go to tests/browser/artifacts/.
//   npm --prefix ui run test:browser
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { buildHarness, ensureArtifacts, launch, requireChromium, serve } from './lib.mjs';

requireChromium();
const out = ensureArtifacts();
await buildHarness();
const server = await serve();
const browser = await launch();
let failed = 0;

async function page(scene, lang = 'en', viewport = { width: 1280, height: 800 }, theme = 'dark') {
  const p = await browser.newPage({ viewport, deviceScaleFactor: 1 });
  const errors = [];
  p.on('pageerror', (e) => errors.push(String(e)));
  p.on('console', (m) => m.type() === 'error' && !/favicon/.test(m.location()?.url ?? '') && errors.push(m.text()));
  p.errors = errors;
  await p.goto(`${server.url}#${scene}?lang=${lang}&theme=${theme}`);
  await p.waitForSelector('#app > *');
  return p;
}
const events = (p, name) => p.evaluate((n) => window.__events.filter((e) => e.name === n), name);
const shot = (p, name) => p.screenshot({ path: join(out, `${name}.png`) });

async function flow(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    console.log(`✓ ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    console.error(`✗ ${name}\n${e?.stack ?? e}`);
  }
}

await flow('chat: the message menu deletes and times out through onaction (mouse and keyboard)', async () => {
  const p = await page('chat');
  await p.waitForSelector('[data-testid="chat-message"]');
  // Follows the newest message: the last row is in view.
  const last = p.locator('[data-testid="chat-message"]').last();
  await last.hover();
  await shot(p, 'chat-en');
  const id = Number(await last.getAttribute('data-id'));
  await last.locator('[data-testid="chat-menu-button"]').click();
  await p.waitForSelector('[data-testid="chat-menu"]');
  await shot(p, 'chat-menu-en');
  await p.locator('[data-testid="chat-menu"] [data-action="delete"]').click();
  let ev = await events(p, 'onaction');
  assert.equal(ev.length, 1);
  assert.equal(ev[0].args[0], 'delete');
  assert.equal(ev[0].args[1].id, id);
  assert.equal(await p.locator('[data-testid="chat-menu"]').count(), 0, 'menu closes after a choice');

  // Keyboard only: focus the button, open with Enter, move with arrows, choose with Enter.
  const row = p.locator('[data-testid="chat-message"]').nth(-2);
  const rowId = Number(await row.getAttribute('data-id'));
  await row.locator('[data-testid="chat-menu-button"]').focus();
  await p.keyboard.press('Enter');
  await p.waitForSelector('[data-testid="chat-menu"]');
  assert.equal(await p.evaluate(() => document.activeElement?.getAttribute('data-action')), 'delete');
  await p.keyboard.press('ArrowDown');
  await p.keyboard.press('Enter');
  ev = await events(p, 'onaction');
  assert.equal(ev.length, 2);
  assert.deepEqual([ev[1].args[0], ev[1].args[1].id], ['timeout_60', rowId]);
  // Escape closes and gives focus back to the button.
  await p.keyboard.press('ArrowDown');
  await p.waitForSelector('[data-testid="chat-menu"]');
  await p.keyboard.press('Escape');
  assert.equal(await p.locator('[data-testid="chat-menu"]').count(), 0);
  assert.equal(await p.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'chat-menu-button');
  assert.deepEqual(p.errors, []);
});

await flow('chat: an open menu holds the list still while messages keep coming, then it follows again', async () => {
  const p = await page('chat');
  await p.waitForSelector('[data-testid="chat-message"]');
  const row = p.locator('[data-testid="chat-message"]').nth(-3);
  const id = await row.getAttribute('data-id');
  await row.hover();
  await row.locator('[data-testid="chat-menu-button"]').click();
  const y0 = (await p.locator(`[data-id="${id}"]`).boundingBox()).y;
  await p.evaluate(() => window.__chat.push(30));
  await p.waitForSelector('[data-testid="chat-new"]');
  await p.waitForTimeout(200);
  assert.equal((await p.locator(`[data-id="${id}"]`).boundingBox()).y, y0, 'the row under the menu did not move');
  assert.equal(await p.locator('[data-testid="chat-menu"]').count(), 1, 'menu still open');
  await p.keyboard.press('Escape');
  await p.waitForTimeout(300);
  const gap = await p.locator('[data-testid="chat-list"]').evaluate((el) => el.scrollHeight - el.clientHeight - el.scrollTop);
  assert.ok(gap < 2, `following again (gap ${gap})`);
  assert.equal(await p.locator('[data-testid="chat-new"]').count(), 0);
});

await flow('chat: scrolled up keeps its place and offers "N new messages"; the pill goes back down', async () => {
  const p = await page('chat');
  await p.waitForSelector('[data-testid="chat-message"]');
  const vp = p.locator('[data-testid="chat-list"]');
  await vp.hover();
  await p.mouse.wheel(0, -600);
  await p.waitForTimeout(300);
  const before = await vp.evaluate((el) => el.scrollTop);
  await p.evaluate(() => window.__chat.push(25));
  await p.waitForSelector('[data-testid="chat-new"]');
  assert.match(await p.locator('[data-testid="chat-new"]').innerText(), /25 new messages/);
  assert.ok(Math.abs((await vp.evaluate((el) => el.scrollTop)) - before) < 2, 'position kept');
  await shot(p, 'chat-new-pill-en');
  await p.locator('[data-testid="chat-new"]').click();
  await p.waitForTimeout(150);
  const gap = await vp.evaluate((el) => el.scrollHeight - el.clientHeight - el.scrollTop);
  assert.ok(gap < 2, `at the bottom again (gap ${gap})`);
  assert.equal(await p.locator('[data-testid="chat-new"]').count(), 0);
  const zh = await page('chat', 'zh-CN');
  await zh.waitForSelector('[data-testid="chat-message"]');
  await zh.locator('[data-testid="chat-list"]').hover();
  await zh.mouse.wheel(0, -400);
  await zh.waitForTimeout(300);
  await zh.evaluate(() => window.__chat.push(3));
  await zh.waitForSelector('[data-testid="chat-new"]');
  await zh.locator('[data-testid="chat-message"]').nth(3).hover();
  await shot(zh, 'chat-zh');
});

await flow('danmaku: comments fly on separate lanes, and the overlay turns off and on', async () => {
  const p = await page('danmaku', 'zh-CN', { width: 1000, height: 640 });
  await p.waitForTimeout(2500);
  const n = await p.locator('.dm').count();
  assert.ok(n > 5, `comments on screen (${n})`);
  // No two scrolling comments on one lane overlap.
  const overlaps = await p.evaluate(() => {
    const els = [...document.querySelectorAll('.dm.scroll')].map((e) => ({ top: e.style.top, r: e.getBoundingClientRect() }));
    let bad = 0;
    for (let i = 0; i < els.length; i++)
      for (let j = i + 1; j < els.length; j++)
        if (els[i].top === els[j].top && els[i].r.left < els[j].r.right && els[j].r.left < els[i].r.right) bad++;
    return bad;
  });
  assert.equal(overlaps, 0);
  await shot(p, 'danmaku-on');
  await p.locator('[data-testid="danmaku-toggle"]').uncheck();
  await p.waitForTimeout(100);
  assert.equal(await p.locator('.dm').count(), 0, 'off empties the layer');
  assert.equal(await p.locator('[data-testid="danmaku"]').isVisible(), false);
  assert.equal(await p.evaluate(() => window.__danmaku.push({ text: 'ignored' })), false);
  await shot(p, 'danmaku-off');
  await p.locator('[data-testid="danmaku-toggle"]').check();
  await p.waitForTimeout(600);
  assert.ok((await p.locator('.dm').count()) > 0, 'back on');
  assert.deepEqual(p.errors, []);
});

await flow('first run: devices → bilibili + key + test → saved key → finish', async () => {
  for (const lang of ['en', 'zh-CN']) {
    const p = await page('firstrun', lang, { width: 1100, height: 760 });
    await p.waitForTimeout(300);
    await shot(p, `firstrun-1-${lang}`);
    await p.locator('[data-testid="fr-next"]').click();
    // Next without a key: told what to do, not moved on.
    await p.locator('[data-preset="bilibili"]').click();
    assert.equal(await p.locator('[data-testid="fr-url"]').inputValue(), 'rtmp://live-push.bilivideo.com/live-bvc');
    await p.locator('[data-testid="fr-next"]').click();
    assert.equal(await p.locator('[data-testid="first-run"]').getAttribute('data-step'), '2');
    await shot(p, `firstrun-2-error-${lang}`);
    const key = p.locator('[data-testid="fr-key"]');
    await key.fill('bad');
    await p.locator('[data-testid="fr-test"]').click();
    await p.waitForSelector('[data-testid="fr-test-result"][data-state="fail"]');
    await key.fill('live_12345_abcdef');
    assert.equal(await key.getAttribute('type'), 'password', 'masked');
    await p.locator('[data-testid="fr-test"]').click();
    await p.waitForSelector('[data-testid="fr-test-result"][data-state="ok"]');
    await shot(p, `firstrun-2-tested-${lang}`);
    await p.locator('[data-testid="fr-next"]').click();
    await p.waitForSelector('[data-testid="first-run"][data-step="3"]');
    assert.deepEqual((await events(p, 'onsavekey'))[0].args, ['main', 17]);
    await shot(p, `firstrun-3-${lang}`);
    await p.locator('[data-testid="fr-finish"]').click();
    const fin = (await events(p, 'onfinish'))[0].args[0];
    assert.deepEqual(fin, { mode: 'live', camera: null, mic: 'mic:default', destination: { url: 'rtmp://live-push.bilivideo.com/live-bvc', key_name: 'main' }, preset: 'bilibili' });
    // The key is not left in the page: the input was cleared once the keychain had it.
    await p.locator('[data-testid="fr-back"]').click();
    assert.equal(await p.locator('[data-testid="fr-key"]').inputValue(), '');
    assert.deepEqual(p.errors, []);
  }
});

await flow('first run: "Record only" skips the destination', async () => {
  const p = await page('firstrun');
  await p.locator('[data-testid="fr-record-only"]').click();
  await p.waitForSelector('[data-testid="first-run"][data-step="3"]');
  await p.locator('[data-testid="fr-finish"]').click();
  const fin = (await events(p, 'onfinish'))[0].args[0];
  assert.equal(fin.mode, 'record');
  assert.equal(fin.destination, null);
  assert.equal((await events(p, 'onsavekey')).length, 0);
});

await flow('settings: save is refused with a clear message, then saves once fixed', async () => {
  for (const lang of ['en', 'zh-CN']) {
    const p = await page('settings', lang);
    await p.locator('[data-testid="settings-save"]').click();
    await p.waitForSelector('[data-testid="settings-error"]');
    assert.equal((await events(p, 'onsave')).length, 0);
    assert.match(await p.locator('[data-testid="bitrate-hint"]').innerText(), lang === 'en' ? /300 to 50,000 kbps/ : /300–50000 kbps/);
    await shot(p, `settings-error-${lang}`);
    await p.locator('[data-testid="bitrate"]').fill('4500');
    // A bad destination sends the user to that tab.
    await p.locator('[data-tab="destinations"]').click();
    await p.locator('[data-testid="dest-add"]').click();
    await p.locator('[data-testid="dest-url"]').last().fill('live.example.com/app');
    await p.locator('[data-tab="general"]').click();
    await p.locator('[data-testid="settings-save"]').click();
    assert.equal(await p.locator('[data-tab="destinations"]').getAttribute('aria-selected'), 'true');
    await shot(p, `settings-dest-error-${lang}`);
    await p.locator('[data-testid="dest-url"]').last().fill('rtmp://live.example.com/app');
    await p.locator('[data-tab="audio"]').click();
    await p.waitForSelector('[data-testid="camera-mics"]');
    await p.locator('[data-testid="camera-mic-camera:1"]').selectOption('mic:default');
    await shot(p, `settings-audio-${lang}`);
    await p.locator('[data-tab="overlays"]').click();
    await p.waitForSelector('[data-testid="overlay-row"]');
    assert.equal(await p.locator('[data-testid="overlay-add-danmaku"]').isDisabled(), true, 'one danmaku layer at most');
    await p.locator('[data-testid="overlay-add-text"]').click();
    await p.locator('[data-testid="overlay-text"]').last().fill('BRB · 马上回来');
    await p.locator('[data-testid="overlay-place"]').last().selectOption('c');
    await shot(p, `settings-overlays-${lang}`);
    await p.locator('[data-tab="room"]').click();
    await shot(p, `settings-room-${lang}`);
    await p.locator('[data-tab="general"]').click();
    await p.getByRole('radio', { name: '简体中文' }).click();
    await shot(p, `settings-general-${lang}`);
    await p.locator('[data-testid="settings-save"]').click();
    const saved = await events(p, 'onsave');
    assert.equal(saved.length, 1);
    const v = saved[0].args[0];
    assert.equal(v.video.bitrate_kbps, 4500);
    assert.equal(v.language, 'zh-CN');
    assert.deepEqual(v.audio.cameraMics, { 'camera:0': 'mic:usb', 'camera:1': 'mic:default' });
    assert.equal(v.audio.director, true);
    assert.deepEqual(v.overlays.map((o) => [o.id, o.kind, o.place]), [['title', 'text', 'tl'], ['logo', 'image', 'tr'], ['danmaku', 'danmaku', 'tl'], ['title2', 'text', 'c']]);
    assert.deepEqual(v.destinations.map((d) => d.url), ['rtmp://live.twitch.tv/app', 'rtmp://live-push.bilivideo.com/live-bvc', 'rtmp://live.example.com/app']);
    assert.deepEqual(p.errors, []);
  }
});

await flow('room panels: gift alert, viewer link + QR, Q&A pin, lottery draw, room settings', async () => {
  for (const lang of ['en', 'zh-CN']) {
    const p = await page('room', lang, { width: 1280, height: 1000 });
    await p.waitForTimeout(700);
    assert.equal(await p.locator('[data-testid="viewer-qr"]').count(), 1);
    await shot(p, `room-${lang}`);
    await p.locator('[data-testid="lottery-draw"]').click();
    assert.deepEqual((await events(p, 'ondraw'))[0].args, [1]);
    await p.locator('[data-testid="blocked-input"]').fill('刷单');
    await p.keyboard.press('Enter');
    await p.locator('[data-testid="room-settings"] button[type="submit"]').click();
    assert.deepEqual((await events(p, 'onsave'))[0].args[0].blockedWords, ['广告', 'spam', '刷单']);
    await p.getByRole('button', { name: lang === 'en' ? 'New lottery' : '再来一轮' }).click();
    await shot(p, `room-lottery-new-${lang}`);
    assert.deepEqual(p.errors, []);
  }
});

await flow('clips: L opens the library beside the room; rename inline, batch export with progress and a failure, delete asks first', async () => {
  const p = await page('clips', 'en', { width: 1440, height: 900 });
  await p.waitForSelector('[data-testid="go-live"]');
  await p.keyboard.press('l');
  await p.waitForSelector('[data-testid="clips-panel"]');
  await p.waitForFunction(() => document.querySelectorAll('[data-testid="clip-thumb"]').length === 3);
  const names = await p.locator('[data-testid="clip"]').evaluateAll((els) => els.map((e) => e.dataset.name));
  assert.deepEqual(names, ['broken-upload.mp4', 'highlight-20261121-101544.mp4', 'Boss fight win.mp4', 'highlight-20261120-213012.mp4']);
  // The thumbnails really decoded (not broken images).
  assert.ok(await p.locator('[data-testid="clip-thumb"]').first().evaluate((i) => i.complete && i.naturalWidth === 320));
  await shot(p, 'clips-library-en');

  // Rename with the keyboard only: a taken name is refused where it was typed.
  const row = p.locator('[data-testid="clip"][data-name="highlight-20261121-101544.mp4"]');
  await row.locator('[data-testid="clip-rename"]').focus();
  await p.keyboard.press('Enter');
  await p.keyboard.press('Control+A');
  await p.keyboard.type('Boss fight win');
  await p.keyboard.press('Enter');
  assert.match(await row.locator('[data-testid="rename-error"]').innerText(), /already exists/);
  await shot(p, 'clips-rename-taken-en');
  await p.keyboard.press('Control+A');
  await p.keyboard.type('Chat goes wild');
  await p.keyboard.press('Enter');
  await p.waitForSelector('[data-testid="clip"][data-name="Chat goes wild.mp4"]');
  assert.equal(await p.locator('[data-testid="clips-panel"]').count(), 1, 'Enter and Escape in the field do not close the drawer');

  // Batch export: the bar moves, the broken clip fails, the batch goes on.
  await p.getByLabel('Select broken-upload.mp4').check();
  await p.getByLabel('Select Chat goes wild.mp4').check();
  await p.locator('[data-testid="export-selected"]').click();
  await p.waitForFunction(() => Number(document.querySelector('[role="progressbar"]')?.getAttribute('aria-valuenow')) >= 20 && document.querySelector('[data-testid="export-progress"]')?.textContent?.includes('2 of 2'));
  await shot(p, 'clips-export-progress-en');
  await p.waitForSelector('[data-testid="export-progress"][data-state="done"]', { timeout: 10_000 });
  assert.match(await p.locator('[data-testid="export-failed"]').innerText(), /broken-upload\.mp4 — The vertical version could not be made/);
  await p.waitForSelector('[data-testid="clip"][data-name="Chat goes wild-vertical.mp4"]');
  await shot(p, 'clips-export-done-en');

  // Delete asks first.
  const del = p.locator('[data-testid="clip"][data-name="highlight-20261120-213012.mp4"]');
  await del.locator('[data-testid="clip-delete"]').click();
  await shot(p, 'clips-delete-ask-en');
  await del.locator('[data-testid="delete-confirm"]').click();
  await p.waitForFunction(() => !document.querySelector('[data-name="highlight-20261120-213012.mp4"]'));
  const calls = await p.evaluate(() => window.__mock.calls.map((c) => c.cmd));
  assert.ok(calls.includes('clip_delete') && calls.includes('clip_export') && calls.includes('clip_rename'));
  assert.deepEqual(p.errors, []);
});

await flow('clips: suggestions of a recording, Keep cuts into the library, Discard is remembered (en, zh-CN, light)', async () => {
  for (const [lang, theme] of [['en', 'dark'], ['zh-CN', 'dark'], ['zh-CN', 'light']]) {
    const p = await page('clips', lang, { width: 1440, height: 900 }, theme);
    await p.waitForSelector('[data-testid="open-clips"]');
    await p.locator('[data-testid="open-clips"]').click();
    await p.locator('[data-clips-tab="suggestions"]').click();
    await p.waitForSelector('[data-testid="suggestion"]');
    assert.equal(await p.locator('[data-testid="suggestion"]').count(), 4);
    await shot(p, `clips-suggestions-${lang}-${theme}`);
    if (lang !== 'en' || theme !== 'dark') continue;
    assert.match(await p.locator('[data-testid="suggestion"]').first().innerText(), /21:03 – 21:33[\s\S]*8\.4[\s\S]*chat burst/);
    await p.locator('[data-testid="suggestion-keep"]').first().click();
    await p.waitForSelector('[data-testid="suggestion-kept"]');
    assert.match(await p.locator('[data-testid="suggestion-kept"]').innerText(), /Kept as marquee-20261121-193000-21m03s-21m33s\.mp4/);
    await p.locator('[data-testid="suggestion-discard"]').last().click();
    await p.waitForFunction(() => document.querySelectorAll('[data-testid="suggestion"]').length === 3);
    await p.locator('[data-testid="suggestions-refresh"]').click();
    await p.waitForSelector('[data-testid="suggestions-discarded"]');
    assert.equal(await p.locator('[data-testid="suggestion"]').count(), 3, 'the discarded one does not come back');
    await shot(p, 'clips-suggestions-decided-en');
    // The older recording had nothing that stood out: the empty state says why.
    await p.locator('[data-testid="recording-pick"]').selectOption('marquee-20261119-200500.mkv');
    await p.waitForSelector('[data-testid="suggestions-empty"]');
    assert.match(await p.locator('[data-testid="suggestions-empty"]').innerText(), /No moment stood out/);
    await shot(p, 'clips-suggestions-empty-en');
    await p.locator('[data-clips-tab="library"]').click();
    await p.waitForSelector('[data-testid="clip"][data-name="marquee-20261121-193000-21m03s-21m33s.mp4"]');
    assert.deepEqual(p.errors, []);
  }
});

await flow('light theme: every component reads on a light background (screenshots)', async () => {
  for (const [scene, size] of [['chat', { width: 1280, height: 800 }], ['room', { width: 1280, height: 1000 }], ['firstrun', { width: 1100, height: 760 }], ['settings', { width: 1280, height: 800 }]]) {
    const p = await page(scene, 'zh-CN', size, 'light');
    await p.waitForTimeout(600);
    if (scene === 'chat') {
      await p.locator('[data-testid="chat-message"]').last().hover();
      await p.locator('[data-testid="chat-message"]').last().locator('[data-testid="chat-menu-button"]').click();
    }
    await shot(p, `light-${scene}-zh-CN`);
    assert.deepEqual(p.errors, []);
  }
});

await browser.close();
server.close();
if (failed) {
  console.error(`\n${failed} browser flow(s) failed; screenshots in ${out}`);
  process.exit(1);
}
console.log(`\nall browser flows passed; screenshots in ${out}`);
