// The demo page (examples/browser) in Chromium via playwright-core: a host and two participants in
// separate pages; a participant's attempt to end the meeting is refused (1201); the host ends it;
// every page shows the ended screen; the session is ENDED over REST; a screenshot is saved.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startDemo } from '../../../examples/browser/serve.mjs';
import { launchChromium } from './helpers.mjs';

const shots = fileURLToPath(new URL('../../../target/screenshots/', import.meta.url));

let demo;
let browser;
before(async () => {
  demo = await startDemo();
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await demo?.stop();
});

test('the host ends the meeting for everyone; a participant may not', async () => {
  const pages = {};
  for (const name of ['Hana', 'Ada', 'Bo']) {
    const page = await browser.newPage();
    page.on('pageerror', (e) => { throw e; });
    await page.goto(demo.urls[name]);
    await page.waitForFunction(() => window.meeting !== undefined);
    await page.click('#join');
    await page.waitForSelector('#room:not([hidden])');
    pages[name] = page;
  }
  await pages.Hana.waitForFunction(() => document.querySelectorAll('#roster li').length === 2);
  assert.equal(await pages.Hana.isVisible('#end-all'), true, 'the host sees "End meeting for all"');
  assert.equal(await pages.Ada.isVisible('#end-all'), false, 'a participant does not');

  // A participant tries anyway: refused with 1201, and nothing changes.
  const refused = await pages.Ada.evaluate(async () => {
    try {
      await window.meeting.participants.kickAll();
      return 'resolved';
    } catch (err) {
      return err?.code;
    }
  });
  assert.equal(refused, 1201);
  assert.equal(await pages.Bo.textContent('#room-state'), 'joined');

  await pages.Hana.click('#end-all');
  for (const [name, page] of Object.entries(pages)) {
    await page.waitForSelector('#ended[data-state="ended"]', { timeout: 5000 });
    assert.equal(await page.textContent('#ended-title'), 'The meeting has ended', name);
    assert.equal(await page.textContent('#room-state'), 'ended', name);
  }
  const sessions = await demo.rest('GET', `/sessions?associated_id=${demo.meetingId}`);
  assert.equal(sessions.data.sessions[0].status, 'ENDED');
  assert.equal(sessions.data.sessions[0].end_reason, 'HOST_ENDED_MEETING');
  mkdirSync(shots, { recursive: true });
  await pages.Ada.screenshot({ path: `${shots}ended.png` });
});
