// The shared scenario files (tests/scenarios/*.json) run through the npm package against a real
// convene-server, as the core (simulated server) and the native client (real server) run them.
// As in the native runner: time runs ten times faster than the scenario's clock, expectations are
// checked until they hold, a `drop` is an outage that lasts until the next `wait`, and "server
// offline" is a real stop and restart on the same port and data directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ConveneClient } from './helpers.mjs';

const TIME_SCALE = 10;
const EVENTUALLY_MS = 4000;
const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = process.env.CONVENE_SERVER_BIN ?? `${root}target/debug/convene-server`;
const wasm = readFileSync(new URL('../pkg/convene_wasm_bg.wasm', import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startServer(listen, dir, admin) {
  for (let i = 0; i < 50; i++) {
    const child = spawn(bin, ['--listen', listen, '--data', dir, '--admin-token', admin, '--away-grace-secs', '30'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const exited = new Promise((resolve) => child.once('exit', () => resolve(null)));
    const ready = (async () => {
      let url;
      let kit;
      for await (const line of createInterface({ input: child.stdout })) {
        url = line.match(/listening on (http:\/\/\S+)/)?.[1] ?? url;
        kit = line.match(/REST API:\s+(\S+)\/\.\.\./)?.[1] ?? kit;
        if (line.includes('ready app:')) return { url, kit };
      }
      return null;
    })();
    const started = await Promise.race([ready, exited]);
    if (started) return { child, ...started };
    await sleep(50); // the port may take a moment to be free after a stop
  }
  throw new Error(`the server did not start on ${listen}`);
}

function stop(child) {
  return new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });
}

/** Partial matching, as convene_core::scenario::matches. */
function matches(expected, actual) {
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && expected.length === actual.length && expected.every((e, i) => matches(e, actual[i]));
  }
  if (expected && typeof expected === 'object') {
    return actual !== null && typeof actual === 'object' && Object.entries(expected).every(([k, v]) => k in actual && matches(v, actual[k]));
  }
  return expected === actual;
}

function resolveAliases(value, peerId) {
  if (typeof value === 'string' && value.startsWith('@')) return peerId(value.slice(1)) ?? value;
  if (Array.isArray(value)) return value.map((v) => resolveAliases(v, peerId));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveAliases(v, peerId)]));
  return value;
}

function merge(into, patch) {
  for (const [k, v] of Object.entries(patch)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) merge((into[k] ??= {}), v);
    else into[k] = v;
  }
  return into;
}

const snake = (v) => (Array.isArray(v) ? v.map(snake) : v && typeof v === 'object'
  ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), snake(x)]))
  : v);

async function runScenario(scenario) {
  const dir = mkdtempSync(join(tmpdir(), 'convene-js-scn-'));
  const admin = `cvn_js_scn_${crypto.randomUUID()}`;
  let server = await startServer('127.0.0.1:0', dir, admin);
  const listen = new URL(server.url).host;
  const rest = async (method, path, body) => {
    const res = await fetch(`${server.kit}${path}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
  const clients = {};
  const held = new Set();
  try {
    const meeting = await rest('POST', '/meetings', {
      title: scenario.meeting?.title ?? 'Scenario meeting',
      session_keep_alive_time_in_secs: scenario.meeting?.keep_alive_secs ?? 60,
    });
    const meetingId = meeting.body.data.id;
    const presets = (await rest('GET', '/presets?per_page=100')).body.data;
    for (const [alias, setup] of Object.entries(scenario.participants)) {
      let preset = setup.preset;
      if (setup.permissions) {
        const base = structuredClone(presets.find((p) => p.name === setup.preset).permissions);
        preset = `${setup.preset}-${alias}`;
        const made = await rest('POST', '/presets', { name: preset, permissions: merge(base, setup.permissions) });
        assert.equal(made.status, 201, JSON.stringify(made.body));
      }
      const p = await rest('POST', `/meetings/${meetingId}/participants`, { custom_participant_id: alias, preset_name: preset, name: alias });
      const options = {
        reconnect: { initial_delay_ms: 250 / TIME_SCALE, max_delay_ms: 5000 / TIME_SCALE, max_attempts: 8, attempt_timeout_ms: 10000 / TIME_SCALE },
        request_timeout_ms: 5000,
      };
      const client = await ConveneClient.init({ authToken: p.body.data.token, baseURI: server.url, wasm, options });
      const events = [];
      client.on('event', (e) => events.push(e));
      clients[alias] = { client, events, cursor: 0, participantId: p.body.data.id, peerId: undefined };
    }
    const peerId = (alias) => clients[alias]?.client.self.id ?? clients[alias]?.peerId;
    const outcome = async (promise, error) => {
      try {
        await promise;
      } catch (e) {
        if (error === e.code) return;
        throw new Error(error === undefined ? `unexpected error ${e.code} (${e.message})` : `expected error ${error}, got ${e.code}`);
      }
      if (error !== undefined) throw new Error(`expected error ${error}, but it succeeded`);
    };
    // Waits (up to 2 s) until `who` sees each target in the meeting or its waiting room, as a
    // person would before acting on them; the step then runs whatever the outcome.
    const sees = async (who, targets) => {
      const ids = targets.map((t) => clients[t]?.participantId).filter(Boolean);
      const view = clients[who].client.participants;
      for (let n = 0; n < 40; n++) {
        const known = [...view.joined.toArray(), ...view.waitlisted.toArray()].map((x) => x.userId);
        if (ids.every((id) => known.includes(id))) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    for (const [i, step] of scenario.steps.entries()) {
      const c = clients[step.as];
      if (['kick', 'reject'].includes(step.do) || (step.do === 'pin' && step.target !== step.as)) await sees(step.as, [step.target]);
      if (['accept', 'update_permissions'].includes(step.do)) await sees(step.as, step.targets);
      try {
        switch (step.do) {
          case 'join': await outcome(c.client.join(), step.error); break;
          case 'leave': await outcome(c.client.leave(), step.error); break;
          case 'kick': await outcome(c.client.participants.kick(peerId(step.target)), step.error); break;
          case 'kick_all': await outcome(c.client.participants.kickAll(), step.error); break;
          case 'accept': await outcome(c.client.participants.acceptAllWaitingRoomRequest(step.targets.map(peerId)), step.error); break;
          case 'accept_all': await outcome(c.client.participants.acceptAllWaitingRoomRequest(), step.error); break;
          case 'reject': await outcome(c.client.participants.rejectWaitingRoomRequest(peerId(step.target)), step.error); break;
          case 'update_permissions':
            await outcome(c.client.participants.updatePermissions(step.targets.map(peerId), step.patch), step.error);
            break;
          case 'pin': {
            const who = step.target === step.as ? c.client.self : c.client.participants.joined.get(peerId(step.target));
            await outcome(step.pinned === false ? who.unpin() : who.pin(), step.error);
            break;
          }
          case 'start_recording': await outcome(c.client.recording.start(), step.error); break;
          case 'stop_recording': await outcome(c.client.recording.stop(), step.error); break;
          case 'api_kick_all': assert.equal((await rest('POST', `/meetings/${meetingId}/active-session/kick-all`)).status, 200); break;
          case 'api_kick': {
            const r = await rest('POST', `/meetings/${meetingId}/active-session/kick`, { participant_ids: [clients[step.target].participantId] });
            assert.equal(r.status, 200, JSON.stringify(r.body));
            break;
          }
          case 'api_set_status': assert.equal((await rest('PATCH', `/meetings/${meetingId}`, { status: step.status })).status, 200); break;
          case 'drop': c.client.simulateOutage(true); held.add(step.as); break;
          case 'server_offline': if (server) { await stop(server.child); server = null; } break;
          case 'server_online': if (!server) server = await startServer(listen, dir, admin); break;
          case 'wait':
            for (const alias of held) clients[alias].client.simulateOutage(false);
            held.clear();
            await sleep(step.ms / TIME_SCALE);
            break;
          case 'expect': await eventuallyExpect(c, step, peerId); break;
          default: throw new Error(`unknown step ${step.do}`);
        }
      } catch (e) {
        throw new Error(`${scenario.name}: step ${i + 1} (${JSON.stringify(step)}): ${e.message}`);
      }
      for (const x of Object.values(clients)) x.peerId = x.client.self.id ?? x.peerId;
    }
  } finally {
    for (const { client } of Object.values(clients)) client.simulateOutage(true);
    if (server) await stop(server.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function eventuallyExpect(c, step, peerId) {
  const until = Date.now() + EVENTUALLY_MS;
  for (;;) {
    const problem = check(c, step, peerId);
    if (problem === null) return;
    if (Date.now() > until) throw new Error(problem);
    await sleep(15);
  }
}

/** Checks an expectation now: null when it holds (and moves the cursor), else what is wrong. */
function check(c, step, peerId) {
  const window = c.events.slice(c.cursor);
  const patterns = (step.events ?? []).map((p) => resolveAliases(p, peerId));
  let at = 0;
  for (const p of patterns) {
    const found = window.slice(at).findIndex((e) => matches(p, e));
    if (found < 0) return `${step.as}: no event matching ${JSON.stringify(p)} among ${JSON.stringify(window)}`;
    at += found + 1;
  }
  for (const p of (step.absent ?? []).map((x) => resolveAliases(x, peerId))) {
    const bad = window.find((e) => matches(p, e));
    if (bad) return `${step.as}: unwanted event ${JSON.stringify(bad)}`;
  }
  for (const [name, n] of Object.entries(step.counts ?? {})) {
    const got = c.events.filter((e) => e.event === name).length;
    if (got !== n) return `${step.as}: ${got} ${name} events, expected ${n}`;
  }
  const m = c.client;
  if (step.room_state && m.self.roomState !== step.room_state) return `${step.as}: room state ${m.self.roomState}, expected ${step.room_state}`;
  if (step.recording_state && m.recording.recordingState !== step.recording_state) return `${step.as}: recording ${m.recording.recordingState}`;
  if (step.waitlist_status && m.self.waitlistStatus !== step.waitlist_status) return `${step.as}: waitlist ${m.self.waitlistStatus}`;
  const same = (map, aliases) => {
    const got = [...map.keys()].sort();
    const want = aliases.map(peerId).sort();
    return JSON.stringify(got) === JSON.stringify(want) ? null : `${JSON.stringify(got)} != ${JSON.stringify(want)}`;
  };
  if (step.joined) { const d = same(m.participants.joined, step.joined); if (d) return `${step.as}: joined ${d}`; }
  if (step.waitlisted) { const d = same(m.participants.waitlisted, step.waitlisted); if (d) return `${step.as}: waitlisted ${d}`; }
  if (step.pinned) {
    const got = [...m.participants.pinned.keys(), ...(m.self.isPinned ? [m.self.id] : [])].sort();
    const want = step.pinned.map(peerId).sort();
    if (JSON.stringify(got) !== JSON.stringify(want)) return `${step.as}: pinned ${JSON.stringify(got)} != ${JSON.stringify(want)}`;
  }
  if (step.permissions && !matches(step.permissions, snake(m.self.permissions.toJSON()))) return `${step.as}: permissions do not match`;
  c.cursor += at;
  return null;
}

const dir = new URL('../../../tests/scenarios/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

test('there are at least 15 scenario files', () => assert.ok(files.length >= 15));

for (const file of files) {
  test(`scenario ${file}`, { timeout: 60000 }, async () => {
    await runScenario(JSON.parse(readFileSync(new URL(file, dir), 'utf8')));
  });
}

test('the runner reports a wrong expectation', async () => {
  const wrong = {
    name: 'wrong',
    participants: { h: { preset: 'group_call_host' } },
    steps: [{ do: 'join', as: 'h' }, { do: 'expect', as: 'h', room_state: 'ended' }],
  };
  await assert.rejects(runScenario(wrong), /room state joined, expected ended/);
});
