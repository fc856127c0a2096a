// A throwaway convene-server for the SDK tests: started on a free loopback port with its own data
// directory and admin token, and participants that join its meetings over the signalling WebSocket
// and stay (so that a meeting has a live session). The same server as the Python tests' one.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const LIVE_PEER = join(ROOT, 'scripts', 'schemathesis', 'live_peer.py');

/** One convene-server process with a ready app and an admin token. */
export class ConveneServer {
  readonly url: string;
  readonly account: string;
  readonly app: string;
  readonly token: string;
  private readonly process: ChildProcess;
  private readonly work: string;
  private readonly log: { text: string };
  private readonly peers: ChildProcess[] = [];

  private constructor(parts: {
    url: string;
    account: string;
    app: string;
    token: string;
    process: ChildProcess;
    work: string;
    log: { text: string };
  }) {
    this.url = parts.url;
    this.account = parts.account;
    this.app = parts.app;
    this.token = parts.token;
    this.process = parts.process;
    this.work = parts.work;
    this.log = parts.log;
  }

  /** Starts the binary in `CONVENE_SERVER` (default target/debug/convene-server). */
  static async start(): Promise<ConveneServer> {
    const binary = process.env.CONVENE_SERVER ?? join(ROOT, 'target', 'debug', 'convene-server');
    const work = mkdtempSync(join(tmpdir(), 'convene-sdk-ts-'));
    const data = join(work, 'data');
    const token = execFileSync(binary, ['token', 'create', '--scope', 'admin', '--all-accounts', '--data', data], {
      encoding: 'utf8',
    }).trim();
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env.CONVENE_ADMIN_TOKEN;
    const child = spawn(binary, ['--listen', '127.0.0.1:0', '--data', data, '--webhook-allow-private'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log = { text: '' };
    const ready = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`convene-server was not ready within 30 s:\n${log.text}`)), 30_000);
      const read = (chunk: Buffer) => {
        log.text += chunk.toString();
        if (log.text.includes('ready app:')) {
          clearTimeout(timer);
          resolve(log.text);
        }
      };
      child.stdout.on('data', read);
      child.stderr.on('data', read);
      child.on('exit', (code) => reject(new Error(`convene-server exited (${code}) before it was ready:\n${log.text}`)));
    });
    const text = await ready;
    const url = /listening on (http:\/\/\S+)/.exec(text)?.[1];
    const found = /ready app: account (\S+), app (\S+)/.exec(text);
    if (!url || !found?.[1] || !found[2]) throw new Error(`unexpected start-up log:\n${text}`);
    return new ConveneServer({
      url,
      account: found[1].replace(/,$/, ''),
      app: found[2],
      token,
      process: child,
      work,
      log,
    });
  }

  /** A participant that joins with `participantToken` and stays until the server stops. */
  async join(participantToken: string): Promise<void> {
    const signalUrl = `ws://${this.url.replace(/^http:\/\//, '')}/v1/signal`;
    const peer = spawn('python3', [LIVE_PEER, signalUrl, participantToken], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.peers.push(peer);
    const line = await new Promise<string>((resolve) => {
      let text = '';
      peer.stdout.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        if (text.includes('\n')) resolve(text);
      });
      peer.on('exit', () => resolve(text));
    });
    if (!line.includes('joined')) throw new Error(`the participant could not join: ${line}`);
  }

  /** Stops the peers and the server; throws if the server panicked meanwhile. */
  async stop(): Promise<void> {
    for (const peer of this.peers) peer.kill();
    if (this.process.exitCode === null && this.process.signalCode === null) {
      const exited = new Promise((resolve) => this.process.once('exit', resolve));
      this.process.kill('SIGTERM');
      await exited;
    }
    rmSync(this.work, { recursive: true, force: true });
    if (this.log.text.includes('panicked')) throw new Error(`convene-server panicked:\n${this.log.text}`);
  }
}
