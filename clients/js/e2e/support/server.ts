import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import type { TopicInfo } from '../../src/types.js';
import { hostDll, repoRoot } from './paths.js';

/** A free loopback port (the OS picks one; we release it for the server). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** Polls `probe` until it returns true, or throws `message` after `timeoutMs`. */
export async function until(probe: () => Promise<boolean> | boolean, message: string, timeoutMs = 15000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await probe()) return;
    } catch {
      // not yet: keep polling until the deadline
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${message}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const live = new Set<ChildProcess>();
// A crashed test run must not leave servers behind.
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface ServerOptions {
  /** Extra command-line settings, e.g. `['--Journal:MaxMessagesPerTopic', '5']`. */
  args?: string[];
}

/**
 * A real Repl.Host process (`dotnet Repl.Host.dll`) on a loopback port with its own data directory.
 * `kill()` + `start()` restarts it on the same port and data directory.
 */
export class ReplServer {
  readonly url: string;
  private child: ChildProcess | null = null;
  private log: string[] = [];

  private constructor(
    readonly port: number,
    readonly dataDir: string,
    private readonly args: string[],
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  static async start(options: ServerOptions = {}): Promise<ReplServer> {
    const server = new ReplServer(await freePort(), mkdtempSync(`${os.tmpdir()}/repl-e2e-`), options.args ?? []);
    await server.start();
    return server;
  }

  /** Starts the process and waits until GET /healthz answers 200. */
  async start(): Promise<void> {
    if (this.child) throw new Error('already running');
    const child = spawn('dotnet', [hostDll, '--urls', this.url, '--data-dir', this.dataDir, ...this.args], {
      cwd: repoRoot,
      env: { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: '1', DOTNET_NOLOGO: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    live.add(child);
    const keep = (chunk: Buffer) => {
      this.log.push(chunk.toString());
      if (this.log.length > 200) this.log.splice(0, this.log.length - 200);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let exited = false;
    child.once('exit', () => {
      exited = true;
      live.delete(child);
    });
    try {
      await until(async () => {
        if (exited) throw new Error('exited');
        const res = await fetch(`${this.url}/healthz`);
        return res.status === 200;
      }, `Repl.Host on ${this.url} to answer /healthz`, 30000, 100);
    } catch (error) {
      if (exited) throw new Error(`Repl.Host exited during start (code ${child.exitCode}):\n${this.output()}`);
      throw new Error(`${(error as Error).message}\n${this.output()}`);
    }
  }

  /** Kills the process (SIGKILL by default: no graceful shutdown) and waits for it to be gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  }

  /** Empties the data directory of a stopped server: the next `start()` creates a new log (a new epoch). */
  wipe(): void {
    if (this.child) throw new Error('stop the server before wiping its data directory');
    rmSync(this.dataDir, { recursive: true, force: true });
    mkdirSync(this.dataDir);
  }

  /** Stops the process gracefully and removes its data directory. */
  async stop(): Promise<void> {
    await this.kill('SIGTERM');
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** The last lines the server printed (for failure messages). */
  output(): string {
    return this.log.join('').split('\n').slice(-40).join('\n');
  }

  // ---- the REST calls the tests make from Node ----

  async createTopic(name: string): Promise<void> {
    const res = await fetch(`${this.url}/topics`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name }),
    });
    if (res.status !== 201) throw new Error(`create ${name}: ${res.status} ${await res.text()}`);
  }

  /** Publishes one message; returns its id (position). */
  async publish(topic: string, value: string, headers?: Record<string, string>): Promise<string> {
    const res = await fetch(`${this.url}/topics/${encodeURIComponent(topic)}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(headers ? { value, headers } : { value }),
    });
    if (res.status !== 201) throw new Error(`publish to ${topic}: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { data: { id: string } };
    return body.data.id;
  }

  async topic(name: string): Promise<TopicInfo> {
    const res = await fetch(`${this.url}/topics/${encodeURIComponent(name)}`);
    if (res.status !== 200) throw new Error(`topic ${name}: ${res.status} ${await res.text()}`);
    return (await res.json()) as TopicInfo;
  }
}

/** A topic name unique to one test. */
export function uniqueTopic(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
}

/** An HS256 JWT signed with `key` (a node's `Auth:SigningKey`), valid for an hour: `claims` such as `sub`, `repl.admin`. */
export function signToken(key: string, claims: Record<string, unknown>): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const body = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims })}`;
  return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
}
