// Serves the demo page with tokens ready:  node examples/browser/serve.mjs
// (or its React twin, once built with `npm ci && npm run build` in examples/browser-react:
// node examples/browser/serve.mjs --react).
// Starts convene-server (target/debug/convene-server, or $CONVENE_SERVER_BIN) with an in-memory
// store, creates a meeting with a host and two participants, serves this page and the built npm
// package (scripts/build-wasm.sh) on a second port, and prints one URL per participant.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css' };

async function startConvene() {
  const admin = `cvn_demo_${crypto.randomUUID()}`;
  const bin = process.env.CONVENE_SERVER_BIN ?? join(root, 'target/debug/convene-server');
  const child = spawn(bin, ['--listen', '127.0.0.1:0', '--data', ':memory:', '--admin-token', admin], { stdio: ['ignore', 'pipe', 'inherit'] });
  let url;
  let kit;
  for await (const line of createInterface({ input: child.stdout })) {
    url = line.match(/listening on (http:\/\/\S+)/)?.[1] ?? url;
    kit = line.match(/REST API:\s+(\S+)\/\.\.\./)?.[1] ?? kit;
    if (line.includes('ready app:')) break;
  }
  const rest = async (method, path, body) => {
    const res = await fetch(`${kit}${path}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return res.json();
  };
  return { child, url, rest };
}

/** Where the demo's files are: `/` from examples/browser, `/pkg/` from bindings/wasm/pkg. */
function demoFile(path) {
  return path.startsWith('/pkg/')
    ? [join(root, 'bindings/wasm/pkg'), path.slice(5)]
    : [join(root, 'examples/browser'), path === '/' ? 'index.html' : path.slice(1)];
}

/** Where the React twin's files are: its build, examples/browser-react/dist. */
function reactDemoFile(path) {
  return [join(root, 'examples/browser-react/dist'), path === '/' ? 'index.html' : path.slice(1)];
}

/** Serves files on a loopback port: `locate(path)` gives the directory and the file in it. */
export function startStatic(locate = demoFile) {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const [base, rel] = locate(path);
    const file = normalize(join(base, rel));
    if (!file.startsWith(base)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Starts everything (serving the pages `locate` finds); returns the page URLs and a stop function. */
export async function startDemo(locate = demoFile) {
  const convene = await startConvene();
  const meeting = await convene.rest('POST', '/meetings', { title: 'Quarterly review' });
  const people = [['Hana', 'group_call_host'], ['Ada', 'group_call_participant'], ['Bo', 'group_call_participant']];
  const stat = await startStatic(locate);
  const page = `http://127.0.0.1:${stat.address().port}/`;
  const urls = {};
  for (const [name, preset] of people) {
    const p = await convene.rest('POST', `/meetings/${meeting.data.id}/participants`, { custom_participant_id: name, preset_name: preset, name });
    urls[name] = `${page}?server=${encodeURIComponent(convene.url)}&token=${encodeURIComponent(p.data.token)}`;
  }
  return {
    urls,
    meetingId: meeting.data.id,
    rest: convene.rest,
    async stop() {
      stat.close();
      convene.child.kill('SIGTERM');
    },
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === normalize(process.argv[1])) {
  const demo = await startDemo(process.argv.includes('--react') ? reactDemoFile : demoFile);
  console.log('Open one page per participant (Hana is the host):');
  for (const [name, url] of Object.entries(demo.urls)) console.log(`  ${name}: ${url}`);
  console.log('Ctrl-C to stop.');
  process.on('SIGINT', async () => { await demo.stop(); process.exit(0); });
}
