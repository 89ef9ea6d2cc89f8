import { randomBytes } from 'node:crypto';
import { get } from 'node:http';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  CLUSTER,
  type Run,
  cleanUpProcesses,
  freePort,
  killAll,
  run,
  tempDir,
  waitForHealthy,
  within,
} from './support/processes.js';

// `npm run start:cluster` (src/cluster.ts) as real processes: a primary and its workers on one
// port and one Postgres. Which worker answered is read from the logs: every line carries its
// process id, and the request line carries the request id the response sends as X-Request-Id.
// Workers need a real Postgres (the embedded one serves one process), so those tests skip
// without TEST_DATABASE_URL; the refusal without DATABASE_URL runs either way.

const ADMIN_URL = process.env['TEST_DATABASE_URL'];
const HAS_POSTGRES = ADMIN_URL !== undefined && ADMIN_URL !== '';
const START_MS = 90_000;
const SECRET = 'cluster-test-secret-that-is-long-enough-0123456789';

const created: string[] = [];

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function freshDatabaseUrl(): Promise<string> {
  const name = `gatehouse_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  created.push(name);
  const url = new URL(ADMIN_URL ?? '');
  url.pathname = `/${name}`;
  return url.toString();
}

afterEach(killAll);
afterAll(async () => {
  cleanUpProcesses();
  for (const name of created.splice(0)) await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
});

interface LogLine {
  readonly pid: number;
  readonly msg: string;
  readonly worker?: number;
  readonly req?: { id: string };
}

const logLines = (cluster: Run): LogLine[] =>
  cluster.out.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);

/** Worker pids the primary has logged as listening, in order. */
const listeningWorkers = (cluster: Run): number[] =>
  logLines(cluster)
    .filter((line) => line.worker !== undefined && line.msg.endsWith('listening'))
    .map((line) => line.worker as number);

async function until<T>(ms: number, what: string, probe: () => T | undefined | false): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** GET on a new connection (the primary hands each new connection to the next worker): the status and request id. */
function getOnNewConnection(port: number, pathname: string): Promise<{ status: number; requestId: string }> {
  return within(
    15_000,
    `GET ${pathname}`,
    new Promise((resolve, reject) => {
      const req = get({ host: '127.0.0.1', port, path: pathname, agent: false }, (res) => {
        res.resume();
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, requestId: String(res.headers['x-request-id'] ?? '') }),
        );
      });
      req.on('error', reject);
    }),
  );
}

/** The pid of the process that logged the request with this id (its log line can trail the response a little). */
function answeredBy(cluster: Run, requestId: string): Promise<number> {
  return until(5_000, `the log line of request ${requestId}`, () =>
    logLines(cluster).find((line) => line.req?.id === requestId),
  ).then((line) => line.pid);
}

/** Sends GET /login on new connections until `want` distinct workers have answered; returns their pids. */
async function workersAnswering(cluster: Run, port: number, want: number): Promise<Set<number>> {
  const pids = new Set<number>();
  for (let i = 0; i < 30 && pids.size < want; i++) {
    const { status, requestId } = await getOnNewConnection(port, '/login');
    expect(status).toBe(200);
    pids.add(await answeredBy(cluster, requestId));
  }
  return pids;
}

async function startCluster(): Promise<{ cluster: Run; port: number; base: string }> {
  const cwd = tempDir();
  const port = await freePort();
  const cluster = run(
    CLUSTER,
    {
      PORT: String(port),
      DATABASE_URL: await freshDatabaseUrl(),
      DATA_DIR: path.join(cwd, 'data'),
      SESSION_SECRET: SECRET,
      BCRYPT_COST: '4',
      LOG_LEVEL: 'info',
      WEB_CONCURRENCY: '2',
    },
    cwd,
  );
  const base = `http://127.0.0.1:${port}`;
  await waitForHealthy(base, cluster, START_MS);
  await until(START_MS, 'two workers listening', () => listeningWorkers(cluster).length >= 2);
  return { cluster, port, base };
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm run start:cluster', () => {
  it('refuses to start without DATABASE_URL, in one line, since the embedded database serves one process', async () => {
    const cwd = tempDir();
    const cluster = run(CLUSTER, { PORT: String(await freePort()), DATA_DIR: path.join(cwd, 'data') }, cwd);
    const { code } = await within(START_MS, 'the refusal', cluster.exited);
    expect(code).toBe(1);
    expect(cluster.out.stderr.trim().split('\n')).toHaveLength(1);
    expect(cluster.out.stderr).toMatch(/DATABASE_URL must be set to run a cluster/);
    expect(cluster.out.stdout).toBe('');
  });

  it('refuses a WEB_CONCURRENCY that is not a whole number, naming the key', async () => {
    const cwd = tempDir();
    const cluster = run(
      CLUSTER,
      {
        PORT: String(await freePort()),
        DATA_DIR: path.join(cwd, 'data'),
        DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
        WEB_CONCURRENCY: 'lots',
      },
      cwd,
    );
    const { code } = await within(START_MS, 'the refusal', cluster.exited);
    expect(code).toBe(1);
    expect(cluster.out.stderr.trim()).toBe('Invalid configuration: WEB_CONCURRENCY must be a whole number (1 to 1024)');
  });

  describe.skipIf(!HAS_POSTGRES)('on a real Postgres', () => {
    it(
      'answers from two worker processes on one port, and replaces a worker that is killed',
      async () => {
        const { cluster, port } = await startCluster();
        const [first, second] = listeningWorkers(cluster);
        expect(first).not.toBe(second);

        const answering = await workersAnswering(cluster, port, 2);
        expect([...answering].sort()).toEqual([first, second].sort());
        expect(answering.has(cluster.child.pid ?? -1)).toBe(false); // the primary serves nothing itself

        // A worker dies: the primary says so and starts another, and both answer again.
        const victim = second as number;
        process.kill(victim, 'SIGKILL');
        await until(10_000, 'the death logged', () =>
          logLines(cluster).some(
            (line) => line.worker === victim && /died \(SIGKILL\); starting a new one/.test(line.msg),
          ),
        );
        const replacement = await until(START_MS, 'a replacement worker listening', () =>
          listeningWorkers(cluster).find((pid) => pid !== first && pid !== victim),
        );
        const after = await workersAnswering(cluster, port, 2);
        expect([...after].sort()).toEqual([first, replacement].sort());
        expect(cluster.hasExited()).toBe(false);
      },
      START_MS * 2,
    );

    it(
      'on SIGTERM to the primary, every worker drains and the primary exits 0 within 10 s',
      async () => {
        const { cluster, port, base } = await startCluster();
        const workers = listeningWorkers(cluster);
        expect((await getOnNewConnection(port, '/login')).status).toBe(200);

        const started = Date.now();
        cluster.child.kill('SIGTERM'); // to the primary, which passes it on
        const { code, signal } = await within(12_000, 'exit after SIGTERM', cluster.exited);
        expect(Date.now() - started).toBeLessThan(10_000);
        expect({ code, signal }).toEqual({ code: 0, signal: null });
        expect(cluster.out.stderr).toBe('');
        for (const pid of workers) {
          expect(logLines(cluster).some((line) => line.worker === pid && line.msg.endsWith('exited (code 0)'))).toBe(
            true,
          );
          expect(isAlive(pid)).toBe(false);
        }
        await expect(fetch(`${base}/healthz`)).rejects.toThrow();
      },
      START_MS + 30_000,
    );
  });
});
