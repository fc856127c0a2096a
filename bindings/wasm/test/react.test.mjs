// convene-react in a real React: the React twin of the demo page (examples/browser-react), built
// by Vite as an app would build it, in Chromium via playwright-core against a real server. A host
// and two participants join; rosters re-render as people arrive while a component that selects
// only the room state does not; a participant's attempt to end the meeting is refused (1201); the
// host's kickAll() puts every page on the ended screen and the session is ENDED over REST.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { launchChromium, serveDirectory, startServer } from './helpers.mjs';

const example = fileURLToPath(new URL('../../../examples/browser-react', import.meta.url));

let server;
let browser;
let site;
let out;
before(async () => {
  out = mkdtempSync(join(tmpdir(), 'convene-react-app-'));
  // The example's own vite.config.js and node_modules (react, and the two packages linked).
  await build({ root: example, logLevel: 'warn', build: { outDir: out, emptyOutDir: true } });
  server = await startServer();
  browser = await launchChromium();
  site = await serveDirectory(out);
});
after(async () => {
  await site?.close();
  await browser?.close();
  await server?.stop();
  rmSync(out, { recursive: true, force: true });
});

/** Errors thrown in the pages, which the test checks for at its end. */
const pageErrors = [];

/** A page of the app for participant `name`, joined. */
async function joined(meetingId, name, preset) {
  const { token } = await server.participant(meetingId, name, preset);
  const page = await browser.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
  await page.goto(`${site.url}/?server=${encodeURIComponent(server.url)}&token=${encodeURIComponent(token)}`);
  await page.click('#join');
  await page.waitForSelector('#room');
  return page;
}

const renders = (page, selector) => page.$eval(selector, (e) => Number(e.dataset.renders));
const roster = (page) => page.$$eval('#roster li', (items) => items.map((li) => li.textContent));

test('React pages re-render on what they select, and the host ends the meeting for all of them', async () => {
  const meetingId = await server.meeting({ title: 'Quarterly review' });
  const hana = await joined(meetingId, 'Hana', 'group_call_host');
  assert.equal(await hana.textContent('#title'), 'Quarterly review');
  assert.equal(await hana.textContent('#room-state'), 'joined');
  assert.deepEqual(await roster(hana), []);
  const badge = await renders(hana, '#room-state');
  const count = await renders(hana, '#count');

  const ada = await joined(meetingId, 'Ada', 'group_call_participant');
  await hana.waitForFunction(() => document.querySelectorAll('#roster li').length === 1);
  const bo = await joined(meetingId, 'Bo', 'group_call_participant');
  await hana.waitForFunction(() => document.querySelectorAll('#roster li').length === 2);
  // The roster is in peer-id order, which is random: compared sorted.
  assert.deepEqual((await roster(hana)).sort(), ['Ada (group_call_participant)', 'Bo (group_call_participant)']);
  await ada.waitForFunction(() => document.querySelectorAll('#roster li').length === 2);
  assert.deepEqual((await roster(ada)).sort(), ['Bo (group_call_participant)', 'Hana (group_call_host)']);
  assert.equal(await hana.textContent('#count'), '2 others');
  // Two arrivals: the count re-rendered for each, the room state (unchanged) not once.
  assert.equal(await renders(hana, '#count'), count + 2, 'the count re-rendered once per arrival');
  assert.equal(await renders(hana, '#room-state'), badge, 'the room state did not re-render');

  assert.equal(await hana.isVisible('#end-all'), true, 'the host sees "End meeting for all"');
  assert.equal(await ada.isVisible('#end-all'), false, 'a participant does not');
  const refused = await ada.evaluate(() => window.meeting.participants.kickAll().then(() => 'resolved', (e) => e.code));
  assert.equal(refused, 1201);
  assert.equal(await bo.textContent('#room-state'), 'joined');

  await hana.click('#end-all');
  for (const [name, page] of Object.entries({ hana, ada, bo })) {
    await page.waitForSelector('#ended[data-state="ended"]', { timeout: 5000 });
    assert.equal(await page.textContent('#ended-title'), 'The meeting has ended', name);
    assert.equal(await page.textContent('#room-state'), 'ended', name);
    assert.equal(await page.$('#room'), null, `${name}: the room is gone`);
  }
  const sessions = (await server.rest('GET', `/sessions?associated_id=${meetingId}`)).body;
  assert.equal(sessions.data.sessions[0].status, 'ENDED');
  assert.equal(sessions.data.sessions[0].end_reason, 'HOST_ENDED_MEETING');
  assert.deepEqual(pageErrors, [], 'no page threw');
});
