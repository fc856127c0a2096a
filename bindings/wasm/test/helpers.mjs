// Test helpers: a real convene-server (the binary, in-memory store, ephemeral port), REST calls,
// and package clients. Node 20 has no global WebSocket: the `ws` package provides one.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { WebSocket } from 'ws';
import ConveneClient from '../pkg/index.js';
import { startStatic } from '../../../examples/browser/serve.mjs';

globalThis.WebSocket ??= WebSocket;

const root = fileURLToPath(new URL('../../../', import.meta.url));
const wasm = readFileSync(new URL('../pkg/convene_wasm_bg.wasm', import.meta.url));
export { ConveneClient };

/** Short reconnection, so clients left behind by a test give up soon after the server stops. */
export const FAST = { reconnect: { initial_delay_ms: 20, max_delay_ms: 100, max_attempts: 3, attempt_timeout_ms: 1000 } };

/** Starts the server binary; resolves once it printed its address and ready app. */
export async function startServer() {
  const admin = `cvn_js_${crypto.randomUUID()}`;
  const bin = process.env.CONVENE_SERVER_BIN ?? `${root}target/debug/convene-server`;
  const child = spawn(bin, ['--listen', '127.0.0.1:0', '--data', ':memory:', '--admin-token', admin], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  let url;
  let kit;
  for await (const line of lines) {
    const m = line.match(/listening on (http:\/\/\S+)/);
    if (m) url = m[1];
    const k = line.match(/REST API:\s+(\S+)\/\.\.\./);
    if (k) kit = k[1];
    if (line.includes('ready app:')) break;
  }
  const server = {
    url,
    kit,
    admin,
    async rest(method, path, body) {
      const res = await fetch(`${kit}${path}`, {
        method,
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    },
    async meeting(body = {}) {
      const r = await server.rest('POST', '/meetings', body);
      if (r.status !== 201) throw new Error(JSON.stringify(r.body));
      return r.body.data.id;
    },
    async participant(meetingId, name, preset) {
      const r = await server.rest('POST', `/meetings/${meetingId}/participants`, {
        custom_participant_id: name, preset_name: preset, name,
      });
      if (r.status !== 201) throw new Error(JSON.stringify(r.body));
      return { id: r.body.data.id, token: r.body.data.token };
    },
    client(token, options = FAST) {
      return ConveneClient.init({ authToken: token, baseURI: url, wasm, options });
    },
    stop() {
      child.kill('SIGTERM');
      return new Promise((resolve) => child.once('exit', resolve));
    },
  };
  return server;
}

/** Resolves when `predicate()` holds, polling; rejects after `ms`. */
export async function eventually(what, predicate, ms = 4000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await predicate()) return;
    await new Promise((r) => setTimeout(r, 15));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Chromium (Debian's, or $CHROMIUM), headless, through playwright-core. */
export function launchChromium() {
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'];
  return chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args });
}

/** Serves a directory on a loopback port (`/` is its index.html); resolves to `{ url, close }`. */
export async function serveDirectory(dir) {
  const server = await startStatic((path) => [dir, path === '/' ? 'index.html' : path.slice(1)]);
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((done) => server.close(done)),
  };
}
