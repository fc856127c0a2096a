// The built package against a real server: RealtimeKit's documented end-a-session snippets run
// unchanged, for a host and for a participant without the permission; the API's shape; events
// after the call returns.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startServer, eventually, ConveneClient } from './helpers.mjs';
import { ClientError } from '../pkg/index.js';

const run = promisify(execFile);

let server;
before(async () => { server = await startServer(); });
after(async () => { await server.stop(); });

test("RealtimeKit's end-a-session snippets run unchanged", async () => {
  const m = await server.meeting({ title: 'Snippets' });
  const host = await server.client((await server.participant(m, 'host', 'group_call_host')).token);
  const guest = await server.client((await server.participant(m, 'guest', 'group_call_participant')).token);
  await host.join();
  await guest.join();
  const results = {};
  for (const [who, meeting] of [['host', host], ['guest', guest]]) {
    // Step 1 of the documentation, verbatim.
    results[who] = { permitted: meeting.self.permissions.kickParticipant === true };
  }
  assert.deepEqual(results, { host: { permitted: true }, guest: { permitted: false } });

  // Step 3, registered first: the session end event.
  const ended = new Promise((resolve) => {
    guest.self.on('roomLeft', ({ state }) => {
      if (state === 'ended') resolve(state);
    });
  });

  // Step 2, for the participant: refused with the documented check.
  let refusedWith;
  try {
    await guest.participants.kickAll();
  } catch (err) {
    if (err?.code === 1201) refusedWith = err.code;
  }
  assert.equal(refusedWith, 1201);

  // Step 2, for the host: resolves once the session has ended.
  let hostError;
  try {
    await host.participants.kickAll();
  } catch (err) {
    hostError = err;
  }
  assert.equal(hostError, undefined);
  assert.equal(host.self.roomState, 'ended', 'ended when kickAll() resolves');
  assert.equal(await ended, 'ended');
  const sessions = await server.rest('GET', `/sessions?associated_id=${m}`);
  assert.equal(sessions.body.data.sessions[0].status, 'ENDED');
});

test('errors are ClientError with a numeric code and the four-digit string', async () => {
  const m = await server.meeting();
  const host = await server.client((await server.participant(m, 'host', 'group_call_host')).token);
  await assert.rejects(host.participants.kickAll(), (err) => {
    assert.ok(err instanceof ClientError);
    assert.equal(err.code, 1205);
    assert.equal(err.codeString, '1205');
    return true;
  });
  await assert.rejects(ConveneClient.init({ authToken: 'forged', baseURI: server.url }), (err) => err.code === 4);
});

test('init refuses a server URL or options the core cannot read, by name', async () => {
  const m = await server.meeting();
  const token = (await server.participant(m, 'host', 'group_call_host')).token;
  const host = await server.client(token, { request_timeout_ms: 2000 });
  assert.equal(host.self.roomState, 'init', 'a well-typed option is taken');
  // The package's WebAssembly is loaded now; the server URL is checked before anything is fetched.
  await assert.rejects(ConveneClient.init({ authToken: token, baseURI: 'ftp://127.0.0.1' }), (err) => {
    assert.ok(err instanceof ClientError);
    assert.equal(err.code, 1);
    assert.match(err.message, /http:\/\/ or https:\/\//);
    return true;
  });
  const options = { reconnect: { max_attempts: 'many' } };
  await assert.rejects(server.client(token, options), (err) => {
    assert.equal(err.code, 1);
    assert.match(err.message, /options\.reconnect\.max_attempts/);
    return true;
  });
});

test('self, participants, meta and recording read the core', async () => {
  const m = await server.meeting({ title: 'Shape' });
  const host = await server.client((await server.participant(m, 'host', 'group_call_host')).token);
  const bob = await server.client((await server.participant(m, 'bob', 'group_call_participant')).token);
  assert.equal(host.self.roomState, 'init');
  assert.equal(host.self.roomJoined, false);
  assert.equal(host.self.name, 'host');
  assert.equal(host.self.presetName, 'group_call_host');
  assert.equal(host.meta.meetingTitle, 'Shape');
  const joinedSeen = new Promise((resolve) => host.participants.joined.on('participantJoined', resolve));
  const recording = [];
  bob.recording.on('recordingUpdate', (s) => recording.push(s));
  await host.join();
  await bob.join();
  const p = await joinedSeen;
  assert.equal(p.name, 'bob');
  assert.equal(host.participants.joined.size, 1);
  assert.equal(host.participants.joined.get(p.id).customParticipantId, 'bob');
  assert.deepEqual([...host.participants.joined].map(([id]) => id), [p.id]);
  assert.equal(host.participants.joined.toArray()[0].id, p.id);
  assert.equal(host.meta.meetingId, m);
  assert.ok(host.meta.sessionId);
  assert.ok(host.meta.meetingStartedTimestamp instanceof Date);
  assert.equal(host.meta.socketState.state, 'connected');
  assert.equal(host.self.waitlistStatus, 'none');
  await host.recording.start();
  await eventually('RECORDING at bob', () => bob.recording.recordingState === 'RECORDING');
  await host.recording.stop();
  await eventually('IDLE at bob', () => bob.recording.recordingState === 'IDLE');
  assert.deepEqual(recording, ['STARTING', 'RECORDING', 'STOPPING', 'IDLE']);
  // A camelCase PresetUpdates patch reaches bob live, with an event per section it touches.
  const sections = [];
  for (const name of ['chatUpdate', 'pollsUpdate', 'pluginsUpdate']) bob.self.permissions.on(name, () => sections.push(name));
  const patched = new Promise((resolve) => bob.self.permissions.on('permissionsUpdate', resolve));
  await host.participants.updatePermissions([p.id], { kickParticipant: true });
  assert.deepEqual(await patched, { kickParticipant: true });
  assert.equal(bob.self.permissions.kickParticipant, true);
  assert.deepEqual(sections, [], 'no section event for a patch outside chat, polls and plugins');
  const patchedAgain = new Promise((resolve) => bob.self.permissions.on('permissionsUpdate', resolve));
  await host.participants.updatePermissions([p.id], { chat: { public: { files: false } }, polls: { canVote: false } });
  await patchedAgain;
  assert.deepEqual(sections, ['chatUpdate', 'pollsUpdate']);
  assert.equal(bob.self.permissions.chatPublic.files, false);
  assert.equal(bob.self.permissions.polls.canVote, false);
  // A participant's kick().
  const kicked = new Promise((resolve) => bob.self.on('roomLeft', resolve));
  await host.participants.joined.get(p.id).kick();
  assert.equal((await kicked).state, 'kicked');
});

test('events reach listeners after the call returns, never re-entrantly', async () => {
  const m = await server.meeting();
  const host = await server.client((await server.participant(m, 'host', 'group_call_host')).token);
  await host.join();
  let fired = false;
  host.self.on('roomLeft', () => { fired = true; });
  const leaving = host.leave();
  assert.equal(fired, false, 'no listener ran inside leave()');
  await leaving;
  await eventually('roomLeft', () => fired);
  assert.equal(host.self.roomState, 'left');
});

test('the waiting room: waitlisted, then admitted', async () => {
  await server.rest('POST', '/presets', { name: 'js-guest', permissions: { waiting_room_type: 'SKIP_ON_ACCEPT', show_participant_list: true } });
  const m = await server.meeting();
  const host = await server.client((await server.participant(m, 'host', 'group_call_host')).token);
  const guest = await server.client((await server.participant(m, 'guest', 'js-guest')).token);
  await host.join();
  const waitlisted = new Promise((resolve) => guest.self.on('waitlisted', resolve));
  const asked = new Promise((resolve) => host.participants.waitlisted.on('participantJoined', resolve));
  await guest.join();
  await waitlisted;
  assert.equal(guest.self.roomState, 'waitlisted');
  const request = await asked;
  const joined = new Promise((resolve) => guest.self.on('roomJoined', resolve));
  await host.participants.acceptWaitingRoomRequest(request.id);
  assert.deepEqual(await joined, { reconnected: false });
  assert.equal(guest.self.waitlistStatus, 'accepted');
});

test('in Node the package, imported by its name, starts with the documented init alone', async () => {
  const m = await server.meeting();
  const token = (await server.participant(m, 'node-host', 'group_call_host')).token;
  // An app of its own, with the package in its node_modules: Node picks the `node` entry point.
  const app = mkdtempSync(join(tmpdir(), 'convene-node-app-'));
  try {
    mkdirSync(join(app, 'node_modules'));
    symlinkSync(fileURLToPath(new URL('../pkg', import.meta.url)), join(app, 'node_modules', 'convene-client'), 'dir');
    writeFileSync(join(app, 'main.mjs'), [
      "import ConveneClient from 'convene-client';",
      'const [authToken, baseURI] = process.argv.slice(2);',
      'const meeting = await ConveneClient.init({ authToken, baseURI });',
      'console.log(JSON.stringify({ roomState: meeting.self.roomState, name: meeting.self.name }));',
    ].join('\n'));
    const { stdout } = await run(process.execPath, [join(app, 'main.mjs'), token, server.url], { cwd: app });
    assert.deepEqual(JSON.parse(stdout), { roomState: 'init', name: 'node-host' });
  } finally {
    rmSync(app, { recursive: true, force: true });
  }
});

test('plugin permissions are camelCase, but the plugin ids that key their configs are kept', async () => {
  const config = { my_plugin: { access_control: 'FULL_ACCESS', handles_view_only: true } };
  await server.rest('POST', '/presets', { name: 'js-plugins', permissions: { plugins: { can_start: true, config } } });
  const m = await server.meeting();
  const client = await server.client((await server.participant(m, 'plugged', 'js-plugins')).token);
  const expected = { canClose: false, canEditConfig: false, canStart: true, config: { my_plugin: { accessControl: 'FULL_ACCESS', handlesViewOnly: true } } };
  assert.deepEqual(client.self.permissions.plugins, expected);
  assert.deepEqual(client.self.permissions.toJSON().plugins, expected);
  assert.equal(client.self.permissions.toJSON().showParticipantList, false, 'the rest of the preset, camelCase');
});
