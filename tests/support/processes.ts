import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Child processes for the tests that run the real entry points (`npm start`, `npm run migrate`), as
// compiled into dist/ (the test setup builds it when stale): each in its own process group, so that
// the cluster's workers are killed with it.
// A test file registers the cleanup itself: `afterEach(killAll)` where no process should outlive
// a test, and `afterAll(cleanUpProcesses)` always.

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SERVER = path.join(ROOT, 'dist/server.js');
export const MIGRATE = path.join(ROOT, 'dist/migrate-cli.js');
export const CLUSTER = path.join(ROOT, 'dist/cluster.js');
export const USERS_CLI = path.join(ROOT, 'dist/users-cli.js');

export interface Run {
  readonly child: ChildProcess;
  readonly out: { stdout: string; stderr: string };
  /** Resolves once the process has exited and its output has drained into `out`. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
}

/** Every child started by run() and not yet killed by killAll(). */
export const running = new Set<ChildProcess>();
const tempDirs: string[] = [];

/** A new temporary directory, removed by cleanUpProcesses(). */
export function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gh-proc-'));
  tempDirs.push(dir);
  return dir;
}

/**
 * Runs a compiled script with node (and `args` after it), with only the given environment
 * (nothing inherited from the test runner but PATH and HOME), in `cwd` (so no stray .env
 * is read), in its own process group.
 */
export function run(
  script: string,
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
  args: readonly string[] = [],
): Run {
  const child = spawn(process.execPath, [script, ...args], {
    cwd,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? cwd, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  running.add(child);
  const out = { stdout: '', stderr: '' };
  child.stdout?.on('data', (chunk: Buffer) => (out.stdout += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (out.stderr += chunk.toString('utf8')));
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
  });
  // Wait for the pipes to drain too, so out is complete when exited resolves.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return { child, out, exited: exited.then(async (result) => (await closed, result)), hasExited: () => done };
}

export function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Kills every process group run() started. */
export function killAll(): void {
  for (const child of running) killGroup(child);
  running.clear();
}

/** For afterAll: kills whatever is still running and removes every tempDir(). */
export function cleanUpProcesses(): void {
  killAll();
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A port nothing listens on, for a server the test starts. Taken below Linux's ephemeral range
 * (32768 and up), not from listen(0): a port from that range is free only until some outgoing
 * connection (the suite makes thousands) takes it as its local port, which happened between the
 * check and the server's own listen ("PORT … is already in use").
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const server = createServer();
    const free = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (free) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      return port;
    }
  }
  throw new Error('no free port below the ephemeral range');
}

/** Polls `${base}/healthz` until it answers 200; fails early if the server exits first. */
export async function waitForHealthy(base: string, server: Run, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (server.hasExited()) throw new Error(`server exited before answering; stderr: ${server.out.stderr}`);
    try {
      const response = await fetch(`${base}/healthz`, { redirect: 'manual', signal: AbortSignal.timeout(5_000) });
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`server did not become healthy within ${ms} ms; stderr: ${server.out.stderr}`);
}
