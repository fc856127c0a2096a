// The package in an app built by Vite (vite-app/, with the package in its node_modules), opened in
// Chromium: the documented `ConveneClient.init({ authToken, baseURI })` loads the .wasm that Vite
// bundled and reaches the server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { launchChromium, serveDirectory, startServer } from './helpers.mjs';

let server;
let browser;
let app;
before(async () => {
  server = await startServer();
  browser = await launchChromium();
  app = mkdtempSync(join(tmpdir(), 'convene-vite-app-'));
});
after(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(app, { recursive: true, force: true });
});

test('an app built by Vite starts with the documented init', async () => {
  cpSync(fileURLToPath(new URL('./vite-app', import.meta.url)), app, { recursive: true });
  mkdirSync(join(app, 'node_modules'));
  symlinkSync(fileURLToPath(new URL('../pkg', import.meta.url)), join(app, 'node_modules', 'convene-client'), 'dir');
  await build({ root: app, logLevel: 'warn', build: { outDir: join(app, 'dist') } });
  const assets = readdirSync(join(app, 'dist', 'assets'));
  assert.ok(assets.some((f) => f.endsWith('.wasm')), `Vite bundled the .wasm: ${assets}`);

  const m = await server.meeting();
  const token = (await server.participant(m, 'vite-host', 'group_call_host')).token;
  const site = await serveDirectory(join(app, 'dist'));
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => { throw e; });
    const query = `?server=${encodeURIComponent(server.url)}&token=${encodeURIComponent(token)}`;
    await page.goto(`${site.url}/${query}`);
    await page.waitForFunction(() => window.started !== undefined);
    const started = await page.evaluate(() => window.started);
    assert.deepEqual(started, { roomState: 'init', name: 'vite-host' });
  } finally {
    await site.close();
  }
});
