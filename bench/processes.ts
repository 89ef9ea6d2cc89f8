/**
 * The processes `npm run bench` starts: Gatehouse as deployed (package.json's "start" script,
 * spawned as written), the cluster ("start:cluster"), the bare Express "hello" ceiling
 * (bench/hello.mjs) and the instrumented copy (bench/instrumented-copy.ts), each in a process
 * of its own on 127.0.0.1; and what /proc says about their memory.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CopyReply, CopyRequest } from './protocol.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** What every request to Gatehouse carries: the headers a TLS-terminating proxy in front of it adds. */
export const PROXY_HEADERS: Readonly<Record<string, string>> = {
  'x-forwarded-proto': 'https',
  'x-forwarded-for': '198.51.100.23',
};

// ---------------------------------------------------------------- package.json's scripts

/** A `node [flags] script.js` line from package.json's "scripts". */
export interface NodeCommand {
  /** The line as written. */
  readonly text: string;
  readonly flags: readonly string[];
  /** The script, resolved against the project root (npm runs scripts there). */
  readonly script: string;
}

/**
 * Reads a package.json script (this checkout's, or `root`'s) that must be `node <flags> <script>`,
 * and nothing else (no shell).
 */
export function nodeScript(name: string, root: string = ROOT): NodeCommand {
  const scripts = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts?: unknown })
    .scripts as Record<string, unknown> | undefined;
  const text = scripts?.[name];
  if (typeof text !== 'string') throw new Error(`package.json has no "${name}" script`);
  const words = text.trim().split(/\s+/);
  const [command, ...rest] = words;
  const script = rest.at(-1);
  const flags = rest.slice(0, -1);
  if (
    command !== 'node' ||
    script === undefined ||
    script.startsWith('-') ||
    flags.some((flag) => !/^--?[\w-]+(=[\w.,:/-]*)?$/.test(flag)) ||
    /["'`$&|;<>]/.test(text)
  ) {
    throw new Error(
      `package.json's "${name}" script is not \`node <flags> <script>\`: ${text}; teach bench/processes.ts`,
    );
  }
  return { text, flags, script: path.resolve(root, script) };
}

// ---------------------------------------------------------------- memory, from /proc (Linux)

export interface Memory {
  /** VmRSS: resident now. */
  readonly rssBytes: number;
  /** VmHWM: the most it has been resident. */
  readonly peakBytes: number;
}

export function memoryOf(pid: number | undefined): Memory | null {
  if (pid === undefined) return null;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
    const memory = { rssBytes: kb('VmRSS') * 1024, peakBytes: kb('VmHWM') * 1024 };
    return Number.isFinite(memory.rssBytes) ? memory : null;
  } catch {
    return null;
  }
}

function childrenOf(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

// ---------------------------------------------------------------- every process this run started

/** SIGKILL for each of `pids`, skipping those already gone. */
function killPids(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** Stopped at the end, and killed outright if the runner exits first. */
const started = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of started) {
    killPids(childrenOf(child.pid));
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

/** SIGTERM (the process drains and exits), then SIGKILL for it and its children after 15 s. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    started.delete(child);
    return;
  }
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const children = childrenOf(child.pid);
  const killer = setTimeout(() => {
    killPids(childrenOf(child.pid).concat(children));
    child.kill('SIGKILL');
  }, 15_000);
  child.kill('SIGTERM');
  await exit;
  clearTimeout(killer);
  started.delete(child);
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

/** The environment a process gets: PATH and HOME from the runner's, nothing else it did not ask for. */
const cleanEnv = (env: Readonly<Record<string, string>>, cwd: string): Record<string, string> => ({
  PATH: process.env['PATH'] ?? '',
  HOME: process.env['HOME'] ?? cwd,
  ...env,
});

// ---------------------------------------------------------------- Gatehouse as deployed, and the cluster

export interface Server {
  readonly port: number;
  readonly pid: number;
  /** The process's memory; for the cluster, also each worker's. */
  memory(): { self: Memory | null; workers: Memory[] };
  /** False once the process has exited (a crash, since only stop() ends it). */
  alive(): boolean;
  stop(): Promise<void>;
}

/**
 * `command` (a package.json script) as npm would run it, on a free port, with only `env` (the
 * working directory is `cwd`, a temporary one, so no stray .env is read); its stdout (the pino
 * log) appended to `logFile`. Resolves once /healthz answers 200.
 */
export async function startServer(
  label: string,
  command: NodeCommand,
  env: Readonly<Record<string, string>>,
  cwd: string,
  logFile: string,
): Promise<Server> {
  const port = await freePort();
  const log = openSync(logFile, 'a');
  const child = spawn(process.execPath, [...command.flags, command.script], {
    cwd,
    env: cleanEnv({ ...env, HOST: '127.0.0.1', PORT: String(port) }, cwd),
    stdio: ['ignore', log, 'inherit'],
  });
  closeSync(log);
  started.add(child);
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${label} (${command.text}) exited before it answered; its log: ${logFile}`);
    }
    if (Date.now() > deadline) {
      await stopProcess(child);
      throw new Error(`${label} (${command.text}) did not answer /healthz within 90 s`);
    }
    try {
      const response = await fetch(`http://127.0.0.1:${port}/healthz`, {
        headers: PROXY_HEADERS,
        signal: AbortSignal.timeout(2_000),
      });
      await response.text();
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const pid = child.pid as number;
  return {
    port,
    pid,
    memory: () => ({
      self: memoryOf(pid),
      workers: childrenOf(pid)
        .map(memoryOf)
        .filter((memory) => memory !== null),
    }),
    alive: () => child.exitCode === null && child.signalCode === null,
    stop: () => stopProcess(child),
  };
}

// ---------------------------------------------------------------- the bare ceiling

export interface Hello {
  readonly port: number;
  memory(): Memory | null;
  stop(): Promise<void>;
}

/**
 * A bench script (bench/<script>) with the same node flags as Gatehouse and `env`, in its own
 * process; resolves with the process and the JSON of the first line it prints (its ports).
 */
async function startPrinting<T>(
  label: string,
  script: string,
  flags: readonly string[],
  env: Readonly<Record<string, string>>,
  cwd: string,
): Promise<{ child: ChildProcess; printed: T }> {
  const child = spawn(process.execPath, [...flags, path.join(ROOT, 'bench', script)], {
    cwd,
    env: cleanEnv({ NODE_ENV: 'production', ...env }, cwd),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  started.add(child);
  const printed = await new Promise<T>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) {
        child.stdout?.removeAllListeners('data');
        child.stdout?.resume();
        resolve(JSON.parse(line) as T);
      }
    });
    child.once('exit', (code) => reject(new Error(`${label} exited with code ${code ?? 'null'}`)));
  });
  return { child, printed };
}

/** bench/hello.mjs, with the same node flags as Gatehouse; resolves with the port it printed. */
export async function startHello(flags: readonly string[], cwd: string): Promise<Hello> {
  const { child, printed } = await startPrinting<{ port: number }>('the hello app', 'hello.mjs', flags, {}, cwd);
  return { port: printed.port, memory: () => memoryOf(child.pid), stop: () => stopProcess(child) };
}

// ---------------------------------------------------------------- the page references

export interface References {
  /** The plain page: Gatehouse's login.njk with fixed data, no middleware (GET /). */
  readonly plainPort: number;
  /** The one-query page: one SELECT by primary key, then dashboard.njk (GET /<user id>). */
  readonly oneQueryPort: number;
  readonly pid: number | undefined;
  memory(): Memory | null;
  stop(): Promise<void>;
}

/**
 * bench/references.mjs, with the same node flags as Gatehouse and `env` (how to reach the deployed
 * process's database); resolves with the ports it printed.
 */
export async function startReferences(
  flags: readonly string[],
  env: Readonly<Record<string, string>>,
  cwd: string,
): Promise<References> {
  const { child, printed: ports } = await startPrinting<{ plain: number; oneQuery: number }>(
    'the references',
    'references.mjs',
    flags,
    env,
    cwd,
  );
  return {
    plainPort: ports.plain,
    oneQueryPort: ports.oneQuery,
    pid: child.pid,
    memory: () => memoryOf(child.pid),
    stop: () => stopProcess(child),
  };
}

// ---------------------------------------------------------------- the instrumented copy

export interface Copy {
  readonly port: number;
  ask<T extends CopyReply['type']>(request: CopyRequest, reply: T): Promise<Extract<CopyReply, { type: T }>>;
  memory(): Memory | null;
  stop(): Promise<void>;
}

/**
 * bench/instrumented-copy.ts (through tsx) with the same node flags as Gatehouse, plus --expose-gc,
 * and with `env`; its stdout (the pino log) appended to `logFile`.
 */
export async function startCopy(
  flags: readonly string[],
  env: Readonly<Record<string, string>>,
  cwd: string,
  logFile: string,
): Promise<Copy> {
  const log = openSync(logFile, 'a');
  const child = fork(path.join(ROOT, 'bench', 'instrumented-copy.ts'), [], {
    cwd,
    execArgv: [...flags, '--expose-gc', '--import', import.meta.resolve('tsx')],
    env: cleanEnv(env, cwd),
    stdio: ['ignore', log, 'inherit', 'ipc'],
  });
  closeSync(log);
  started.add(child);
  const ask = <T extends CopyReply['type']>(request: CopyRequest, reply: T) =>
    new Promise<Extract<CopyReply, { type: T }>>((resolve, reject) => {
      const onExit = () => reject(new Error('the instrumented copy exited'));
      const onMessage = (message: CopyReply) => {
        if (message.type !== reply) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(message as Extract<CopyReply, { type: T }>);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send(request);
    });
  const ready = await new Promise<Extract<CopyReply, { type: 'ready' }>>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the instrumented copy exited with code ${code ?? 'null'}`)));
    child.on('message', (message: CopyReply) => {
      if (message.type === 'ready') resolve(message);
    });
  });
  return {
    port: ready.port,
    ask,
    memory: () => memoryOf(child.pid),
    stop: () => stopProcess(child),
  };
}
