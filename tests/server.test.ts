import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../src/db/database.js';
import {
  MIGRATE,
  ROOT,
  type Run,
  SERVER,
  cleanUpProcesses,
  freePort,
  killAll,
  killGroup,
  run,
  running,
  tempDir,
  waitForHealthy,
  within,
} from './support/processes.js';

const ADMIN_URL = process.env['TEST_DATABASE_URL'];
const LOCK = 'embedded-postgres.lock';
const SOCKET = '.s.PGSQL.5432';
const START_MS = 90_000;

/** The migrations a fresh database must end up with, in order: every file in migrations/. */
const MIGRATIONS = readdirSync(path.join(ROOT, 'migrations'))
  .filter((file) => file.endsWith('.sql'))
  .sort()
  .map((file) => file.replace(/\.sql$/, ''));

// ---------------------------------------------------------------------------
// Child processes (see support/processes.ts), all killed after the file; each describe
// below also kills those a test leaves behind.

afterAll(cleanUpProcesses);

const get = (url: string, init: RequestInit = {}) =>
  fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(5_000), ...init });

interface Started {
  readonly server: Run;
  readonly base: string;
  readonly port: number;
}

async function startServer(env: Record<string, string>, cwd: string): Promise<Started> {
  const port = await freePort();
  const server = run(SERVER, { PORT: String(port), LOG_LEVEL: 'info', ...env }, cwd);
  const base = `http://127.0.0.1:${port}`;
  await waitForHealthy(base, server, START_MS);
  return { server, base, port };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid of a process that has certainly exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await within(10_000, 'a trivial node process exiting', new Promise((resolve) => child.once('exit', resolve)));
  if (child.pid === undefined || isAlive(child.pid)) throw new Error('could not find a dead pid');
  return child.pid;
}

/** Leaves a unix socket file at `socketPath` whose owner was killed, as a crash does. */
async function staleSocket(socketPath: string): Promise<void> {
  const script = `require('node:net').createServer().listen(${JSON.stringify(socketPath)}, () => console.log('up'))`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
  await within(10_000, 'the socket owner listening', new Promise((resolve) => child.stdout.once('data', resolve)));
  child.kill('SIGKILL');
  await within(10_000, 'the socket owner dying', new Promise((resolve) => child.once('exit', resolve)));
}

/** One line on stderr, no stack trace. */
function expectOneCleanLine(stderr: string): void {
  expect(stderr.trim()).not.toBe('');
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).not.toContain('    at ');
}

// ---------------------------------------------------------------------------
// What the schema must look like, whichever way it was migrated.

async function columnsOf(pool: pg.Pool, table: string): Promise<string[]> {
  const { rows } = await pool.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  return rows.map((row) => row.column_name);
}

async function recordedMigrations(pool: pg.Pool): Promise<Array<{ name: string; times: number }>> {
  const { rows } = await pool.query<{ name: string; times: number }>(
    'SELECT name, count(*)::int AS times FROM pgmigrations GROUP BY name ORDER BY name',
  );
  return rows;
}

function schemaMatchesTheContract(pool: () => pg.Pool): void {
  it('records every migration in pgmigrations exactly once', async () => {
    expect(await recordedMigrations(pool())).toEqual(MIGRATIONS.map((name) => ({ name, times: 1 })));
  });

  it('has users(id, name, email, password_hash, website, is_active, created_at, last_login_at)', async () => {
    expect(await columnsOf(pool(), 'users')).toEqual(
      expect.arrayContaining([
        'id',
        'name',
        'email',
        'password_hash',
        'website',
        'is_active',
        'created_at',
        'last_login_at',
      ]),
    );
  });

  it('has sessions(sid, sess, expire) in the connect-pg-simple layout, sid the primary key', async () => {
    // The layout's three columns first, then ours (the owner and where the session came from).
    expect((await columnsOf(pool(), 'sessions')).slice(0, 3)).toEqual(['sid', 'sess', 'expire']);
    expect(await columnsOf(pool(), 'sessions')).toEqual(expect.arrayContaining(['user_id', 'ip', 'user_agent']));
    const { rows } = await pool().query<{ column_name: string }>(
      `SELECT k.column_name FROM information_schema.table_constraints c
         JOIN information_schema.key_column_usage k ON k.constraint_name = c.constraint_name AND k.table_name = c.table_name
        WHERE c.table_name = 'sessions' AND c.constraint_type = 'PRIMARY KEY' AND c.table_schema = current_schema()`,
    );
    expect(rows.map((row) => row.column_name)).toEqual(['sid']);
    // What connect-pg-simple writes: a JSON session and an expiry timestamp.
    await pool().query(
      "INSERT INTO sessions (sid, sess, expire) VALUES ('probe', '{\"cookie\":{}}', now() + interval '1 hour')",
    );
    const stored = await pool().query<{ sess: { cookie: object }; expire: Date }>(
      "SELECT sess, expire FROM sessions WHERE sid = 'probe'",
    );
    expect(stored.rows[0]?.sess).toEqual({ cookie: {} });
    expect(stored.rows[0]?.expire).toBeInstanceOf(Date);
    await pool().query("DELETE FROM sessions WHERE sid = 'probe'");
  });

  it('refuses a second user whose email differs only in case', async () => {
    const email = `Case-${randomBytes(4).toString('hex')}@Example.com`;
    await pool().query("INSERT INTO users (name, email, password_hash) VALUES ('A', $1, 'x')", [email]);
    await expect(
      pool().query("INSERT INTO users (name, email, password_hash) VALUES ('B', $1, 'x')", [email.toLowerCase()]),
    ).rejects.toMatchObject({ code: '23505' });
    await expect(
      pool().query("INSERT INTO users (name, email, password_hash) VALUES ('C', $1, 'x')", [email.toUpperCase()]),
    ).rejects.toMatchObject({ code: '23505' });
  });

  it('makes a new user active unless told otherwise, with created_at set', async () => {
    const email = `active-${randomBytes(4).toString('hex')}@example.com`;
    const { rows } = await pool().query<{ is_active: boolean; created_at: Date; last_login_at: Date | null }>(
      "INSERT INTO users (name, email, password_hash) VALUES ('D', $1, 'x') RETURNING is_active, created_at, last_login_at",
      [email],
    );
    expect(rows[0]?.is_active).toBe(true);
    expect(rows[0]?.created_at).toBeInstanceOf(Date);
    expect(rows[0]?.last_login_at).toBeNull();
  });
}

// ---------------------------------------------------------------------------

describe('npm start on an embedded database', () => {
  let cwd: string;
  let dataDir: string;
  let first: Started;

  beforeAll(async () => {
    cwd = tempDir();
    dataDir = path.join(cwd, 'data');
    first = await startServer({ DATA_DIR: dataDir }, cwd);
  }, START_MS + 10_000);

  afterEach(() => {
    // Anything but the first server is a leftover of the test that just ran.
    for (const child of running) if (child !== (first as Started | undefined)?.server.child) killGroup(child);
  });

  it('answers GET /healthz with 200 {"status":"ok"} and says where it listens', async () => {
    const response = await get(`${first.base}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
    expect(first.server.out.stdout).toContain(`http://127.0.0.1:${first.port}`);
  });

  it('sends an anonymous visitor at / to /login?next=%2F', async () => {
    const response = await get(`${first.base}/`);
    expect([302, 303]).toContain(response.status);
    expect(response.headers.get('location')).toBe('/login?next=%2F');
  });

  it('keeps its database, lock file (naming its own live process) and socket in DATA_DIR', () => {
    expect(existsSync(path.join(dataDir, 'pgdata'))).toBe(true);
    const owner = Number.parseInt(readFileSync(path.join(dataDir, LOCK), 'utf8'), 10);
    expect(isAlive(owner)).toBe(true);
    expect(lstatSync(path.join(dataDir, SOCKET)).isSocket()).toBe(true);
  });

  it('refuses a second server on the same DATA_DIR with one clear line, while the first keeps serving', async () => {
    const lockBefore = readFileSync(path.join(dataDir, LOCK), 'utf8');
    const port = await freePort();
    const second = run(SERVER, { DATA_DIR: dataDir, PORT: String(port) }, cwd);
    const { code } = await within(30_000, 'the second server exiting', second.exited);
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expectOneCleanLine(second.out.stderr);
    expect(second.out.stderr).toContain(dataDir);
    expect(second.out.stderr).toMatch(/in use/i);

    expect(readFileSync(path.join(dataDir, LOCK), 'utf8')).toBe(lockBefore);
    expect(lstatSync(path.join(dataDir, SOCKET)).isSocket()).toBe(true);
    const health = await get(`${first.base}/healthz`);
    expect(health.status).toBe(200);
    expect((await get(`${first.base}/`)).headers.get('location')).toBe('/login?next=%2F');
  }, 60_000);

  it('refuses npm run migrate on a DATA_DIR a running server holds, with one clear line', async () => {
    const migrate = run(MIGRATE, { DATA_DIR: dataDir }, cwd);
    const { code } = await within(30_000, 'migrate exiting', migrate.exited);
    expect(code).not.toBe(0);
    expectOneCleanLine(migrate.out.stderr);
    expect(migrate.out.stderr).toMatch(/in use/i);
    expect((await get(`${first.base}/healthz`)).status).toBe(200);
  }, 60_000);

  it('stops on SIGTERM with exit code 0 within 10 s, leaving no lock file, socket or process behind', async () => {
    const owner = Number.parseInt(readFileSync(path.join(dataDir, LOCK), 'utf8'), 10);
    const started = Date.now();
    first.server.child.kill('SIGTERM');
    const { code, signal } = await within(12_000, 'exit after SIGTERM', first.server.exited);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(existsSync(path.join(dataDir, LOCK))).toBe(false);
    expect(existsSync(path.join(dataDir, SOCKET))).toBe(false);
    expect(isAlive(owner)).toBe(false);
    await expect(get(`${first.base}/healthz`)).rejects.toThrow();
  }, 30_000);

  it('had applied every migration before it listened, and the data outlives the stop', async () => {
    expect(first.server.hasExited()).toBe(true);
    const log = first.server.out.stdout;
    expect(log.indexOf('migrations applied')).toBeGreaterThan(-1);
    expect(log.indexOf('migrations applied')).toBeLessThan(log.indexOf('Gatehouse listening'));
    const db = await openDatabase({ url: undefined, dataDir, poolSize: 1 });
    try {
      expect(await recordedMigrations(db.pool)).toEqual(MIGRATIONS.map((name) => ({ name, times: 1 })));
      expect(await columnsOf(db.pool, 'users')).not.toEqual([]);
      expect(await columnsOf(db.pool, 'sessions')).not.toEqual([]);
    } finally {
      await db.close();
    }
  }, 60_000);
});

describe('npm start after a crash', () => {
  afterEach(killAll);

  it(
    'starts despite a stale socket file and a stale lock file naming a dead process',
    async () => {
      const cwd = tempDir();
      const dataDir = path.join(cwd, 'data');
      mkdirSync(dataDir);
      const dead = await deadPid();
      writeFileSync(path.join(dataDir, LOCK), String(dead));
      await staleSocket(path.join(dataDir, SOCKET));
      expect(lstatSync(path.join(dataDir, SOCKET)).isSocket()).toBe(true);

      const { base } = await startServer({ DATA_DIR: dataDir }, cwd);
      expect((await get(`${base}/healthz`)).status).toBe(200);
      const owner = Number.parseInt(readFileSync(path.join(dataDir, LOCK), 'utf8'), 10);
      expect(owner).not.toBe(dead);
      expect(isAlive(owner)).toBe(true);
    },
    START_MS + 30_000,
  );

  it(
    'starts again, data intact, after the previous server was killed with SIGKILL',
    async () => {
      const cwd = tempDir();
      const dataDir = path.join(cwd, 'data');
      const crashed = await startServer({ DATA_DIR: dataDir }, cwd);
      killGroup(crashed.server.child);
      await within(10_000, 'the killed server exiting', crashed.server.exited);
      expect(existsSync(path.join(dataDir, LOCK))).toBe(true); // nothing cleaned up: a real crash
      // The group leader's exit can come before the node process that owns the lock is reaped.
      const owner = Number.parseInt(readFileSync(path.join(dataDir, LOCK), 'utf8'), 10);
      const deadline = Date.now() + 10_000;
      while (isAlive(owner) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));

      const again = await startServer({ DATA_DIR: dataDir }, cwd);
      expect((await get(`${again.base}/healthz`)).status).toBe(200);
      expect(again.server.out.stdout).not.toContain('migrations applied');
    },
    2 * START_MS + 30_000,
  );
});

describe('npm start when its port is taken', () => {
  afterEach(killAll);

  it(
    'exits non-zero with one line about the port, and releases the embedded database',
    async () => {
      const cwd = tempDir();
      const dataDir = path.join(cwd, 'data');
      const squatter = createServer();
      await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
      try {
        const address = squatter.address();
        if (address === null || typeof address === 'string') throw new Error('no port');
        const server = run(SERVER, { DATA_DIR: dataDir, PORT: String(address.port) }, cwd);
        const { code } = await within(START_MS, 'exit', server.exited);
        expect(code).not.toBe(0);
        expect(code).not.toBeNull();
        expectOneCleanLine(server.out.stderr);
        expect(server.out.stderr).toContain(String(address.port));
        expect(existsSync(path.join(dataDir, LOCK))).toBe(false);
        expect(existsSync(path.join(dataDir, SOCKET))).toBe(false);
      } finally {
        await new Promise<void>((resolve) => squatter.close(() => resolve()));
      }
    },
    START_MS + 10_000,
  );
});

describe('npm start with a database it cannot reach', () => {
  afterEach(killAll);

  it('exits non-zero with one clear line and no stack trace', async () => {
    const cwd = tempDir();
    const port = await freePort(); // nothing listens here
    const server = run(
      SERVER,
      {
        DATA_DIR: path.join(cwd, 'data'),
        PORT: String(await freePort()),
        DATABASE_URL: `postgres://127.0.0.1:${port}/none`,
      },
      cwd,
    );
    const { code } = await within(30_000, 'exit', server.exited);
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expectOneCleanLine(server.out.stderr);
  }, 60_000);
});

describe('npm run migrate on a fresh embedded DATA_DIR', () => {
  let cwd: string;
  let dataDir: string;
  let db: Database | undefined;

  beforeAll(async () => {
    cwd = tempDir();
    dataDir = path.join(cwd, 'data');
  });

  afterAll(async () => {
    await db?.close();
    killAll();
  });

  it(
    'applies every migration, exits 0 and leaves the database unlocked',
    async () => {
      const migrate = run(MIGRATE, { DATA_DIR: dataDir }, cwd);
      const { code } = await within(START_MS, 'migrate exiting', migrate.exited);
      expect(migrate.out.stderr).toBe('');
      expect(code).toBe(0);
      expect(migrate.out.stdout.trim()).toBe(`Applied: ${MIGRATIONS.join(', ')}`);
      expect(existsSync(path.join(dataDir, LOCK))).toBe(false);
      expect(existsSync(path.join(dataDir, SOCKET))).toBe(false);
    },
    START_MS + 10_000,
  );

  it(
    'finds nothing to do the second time',
    async () => {
      const migrate = run(MIGRATE, { DATA_DIR: dataDir }, cwd);
      const { code } = await within(START_MS, 'migrate exiting', migrate.exited);
      expect(code).toBe(0);
      expect(migrate.out.stdout.trim()).toBe('No pending migrations.');
    },
    START_MS + 10_000,
  );

  it(
    'works in a DATA_DIR whose path is too long for a unix socket name',
    async () => {
      const longDir = path.join(cwd, 'a-rather-long-directory-name-'.repeat(4), 'data');
      expect(longDir.length).toBeGreaterThan(108);
      const migrate = run(MIGRATE, { DATA_DIR: longDir }, cwd);
      const { code } = await within(START_MS, 'migrate exiting', migrate.exited);
      // The socket then lives in the temporary directory, named after DATA_DIR.
      const socketDir = path.join(
        tmpdir(),
        `gatehouse-${createHash('sha256').update(longDir).digest('hex').slice(0, 16)}`,
      );
      rmSync(socketDir, { recursive: true, force: true });
      expect(migrate.out.stderr).toBe('');
      expect(code).toBe(0);
      expect(migrate.out.stdout.trim()).toBe(`Applied: ${MIGRATIONS.join(', ')}`);
      expect(existsSync(path.join(longDir, LOCK))).toBe(false);
    },
    START_MS + 10_000,
  );

  describe('leaves a schema that', () => {
    beforeAll(async () => {
      db = await openDatabase({ url: undefined, dataDir, poolSize: 2 });
    }, START_MS);
    schemaMatchesTheContract(() => {
      if (!db) throw new Error('database not open');
      return db.pool;
    });
  });
});

describe.runIf(ADMIN_URL !== undefined && ADMIN_URL !== '')('on a real Postgres (TEST_DATABASE_URL)', () => {
  const admin = ADMIN_URL ?? '';
  const created: string[] = [];

  async function adminQuery(sql: string): Promise<void> {
    const client = new pg.Client({ connectionString: admin });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  }

  /** A new, empty database gatehouse_test_<random> on the TEST_DATABASE_URL server; its URL. */
  async function freshDatabase(): Promise<string> {
    const name = `gatehouse_test_${randomBytes(6).toString('hex')}`;
    await adminQuery(`CREATE DATABASE ${name}`);
    created.push(name);
    const url = new URL(admin);
    url.pathname = `/${name}`;
    return url.toString();
  }

  afterAll(async () => {
    killAll();
    for (const name of created) await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });

  // Two server processes do not always reach the database at the same instant, so the
  // race is run on several fresh databases: without the advisory lock about half
  // of the rounds break (a duplicate pgmigrations table), so five almost surely catch it.
  describe('two migrate processes started at the same moment on one fresh database', () => {
    const ROUNDS = 5;
    const rounds: Array<{ url: string; outputs: Array<{ code: number | null; stdout: string; stderr: string }> }> = [];
    let pool: pg.Pool | undefined;

    beforeAll(async () => {
      const cwd = tempDir();
      for (let round = 0; round < ROUNDS; round++) {
        const url = await freshDatabase();
        const racers = [0, 1].map(() => run(MIGRATE, { DATABASE_URL: url, DATA_DIR: path.join(cwd, 'data') }, cwd));
        const outputs = [];
        for (const racer of racers) {
          const { code } = await within(60_000, 'a migrate process exiting', racer.exited);
          outputs.push({ code, ...racer.out });
        }
        rounds.push({ url, outputs });
      }
      pool = new pg.Pool({ connectionString: rounds[0]?.url, max: 2 });
    }, ROUNDS * 60_000);

    afterAll(async () => {
      await pool?.end();
    });

    it('both exit 0, and between them apply each migration once', async () => {
      expect(rounds).toHaveLength(ROUNDS);
      for (const { url, outputs } of rounds) {
        expect(outputs.map((output) => [output.code, output.stderr])).toEqual([
          [0, ''],
          [0, ''],
        ]);
        const applied = outputs.flatMap(({ stdout }) => {
          const line = stdout.trim();
          if (line === 'No pending migrations.') return [];
          expect(line).toMatch(/^Applied: /);
          return line.slice('Applied: '.length).split(', ');
        });
        expect([...applied].sort()).toEqual(MIGRATIONS);
        const check = new pg.Pool({ connectionString: url, max: 1 });
        try {
          expect(await recordedMigrations(check)).toEqual(MIGRATIONS.map((name) => ({ name, times: 1 })));
        } finally {
          await check.end();
        }
      }
    });

    schemaMatchesTheContract(() => {
      if (!pool) throw new Error('pool not open');
      return pool;
    });
  });

  describe('npm start', () => {
    afterEach(killAll);

    it(
      'lets two servers started at once on one fresh database both come up',
      async () => {
        const url = await freshDatabase();
        const cwd = tempDir();
        const [a, b] = await Promise.all([
          startServer({ DATABASE_URL: url, DATA_DIR: path.join(cwd, 'a') }, cwd),
          startServer({ DATABASE_URL: url, DATA_DIR: path.join(cwd, 'b') }, cwd),
        ]);
        for (const server of [a, b]) {
          expect((await get(`${server.base}/healthz`)).status).toBe(200);
          expect(server.server.out.stderr).toBe('');
        }
        const pool = new pg.Pool({ connectionString: url, max: 1 });
        try {
          expect(await recordedMigrations(pool)).toEqual(MIGRATIONS.map((name) => ({ name, times: 1 })));
        } finally {
          await pool.end();
        }
      },
      START_MS,
    );

    it(
      'answers /healthz with 503 while its database is gone, without crashing',
      async () => {
        const url = await freshDatabase();
        const cwd = tempDir();
        const { server, base } = await startServer({ DATABASE_URL: url, DATA_DIR: path.join(cwd, 'data') }, cwd);
        await adminQuery(`DROP DATABASE ${new URL(url).pathname.slice(1)} WITH (FORCE)`);
        const response = await get(`${base}/healthz`);
        expect(response.status).toBe(503);
        expect(response.headers.get('content-type')).toMatch(/json/);
        expect(server.hasExited()).toBe(false);
        expect((await get(`${base}/healthz`)).status).toBe(503);
      },
      START_MS,
    );
  });
});
