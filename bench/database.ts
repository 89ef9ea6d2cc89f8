/**
 * The databases of one bench run, and what the runner reads from the deployed process's one.
 *
 * Real Postgres (DATABASE_URL set): two fresh databases on that server, gatehouse_bench_<id> for the
 * deployed process (and the cluster) and gatehouse_bench_<id>_copy for the instrumented copy, both
 * dropped at the end. Embedded (DATABASE_URL unset): each process opens its own PGlite in a
 * temporary data directory, as `npm start` does without DATABASE_URL; the runner reaches the
 * deployed one through the unix socket it serves.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { SOCKET_PORT, socketDirFor } from '../src/db/embedded-socket.js';

export interface BenchDatabases {
  readonly real: boolean;
  readonly label: string;
  /** DATABASE_URL (real Postgres) and DATA_DIR for the deployed process and the cluster. */
  readonly deployedEnv: Readonly<Record<string, string>>;
  /** The same for the instrumented copy. */
  readonly copyEnv: Readonly<Record<string, string>>;
  /** How bench/references.mjs reaches the deployed process's database (DATABASE_URL, or PGHOST and PGPORT). */
  readonly referencesEnv: Readonly<Record<string, string>>;
  /** A new connection to the deployed process's database (for the embedded one: once it is running). */
  connect(): Promise<pg.Client>;
  drop(): Promise<void>;
}

export async function benchDatabases(workDir: string, adminUrl: string | undefined): Promise<BenchDatabases> {
  const deployedDir = path.join(workDir, 'deployed');
  const copyDir = path.join(workDir, 'copy');
  mkdirSync(deployedDir);
  mkdirSync(copyDir);
  if (!adminUrl) {
    return {
      real: false,
      label: 'embedded PGlite (DATABASE_URL unset): one per process, in a temporary directory',
      deployedEnv: { DATA_DIR: deployedDir },
      copyEnv: { DATA_DIR: copyDir },
      referencesEnv: { PGHOST: socketDirFor(deployedDir), PGPORT: String(SOCKET_PORT) },
      async connect() {
        const client = new pg.Client({
          host: socketDirFor(deployedDir),
          port: SOCKET_PORT,
          user: 'postgres',
          database: 'postgres',
        });
        await client.connect();
        return client;
      },
      drop: async () => {},
    };
  }
  const name = `gatehouse_bench_${randomBytes(6).toString('hex')}`;
  const names = [name, `${name}_copy`];
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    for (const database of names) await admin.query(`CREATE DATABASE ${database}`);
  } finally {
    await admin.end();
  }
  const urlOf = (database: string) => {
    const url = new URL(adminUrl);
    url.pathname = `/${database}`;
    return url.toString();
  };
  const shown = new URL(urlOf(name));
  shown.password = shown.password ? '***' : '';
  return {
    real: true,
    label: `real Postgres (DATABASE_URL): fresh databases ${shown.host}/${name} (deployed) and ${name}_copy (instrumented copy)`,
    deployedEnv: { DATABASE_URL: urlOf(name), DATA_DIR: deployedDir },
    copyEnv: { DATABASE_URL: urlOf(`${name}_copy`), DATA_DIR: copyDir },
    referencesEnv: { DATABASE_URL: urlOf(name) },
    async connect() {
      const client = new pg.Client({ connectionString: urlOf(name) });
      await client.connect();
      return client;
    },
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        for (const database of names) await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

// ---------------------------------------------------------------- session writes, seen by the database

/** Rows in the sessions table, and the writes to it since the counter was installed. */
export interface SessionTally {
  readonly rows: number;
  readonly inserts: number;
  readonly updates: number;
  readonly deletes: number;
}

/**
 * A row-level trigger on the deployed database's sessions table that counts every INSERT, UPDATE
 * and DELETE into a side table: the deployed process itself cannot be instrumented, its database
 * can. It fires only on a write, so a page view that writes nothing costs nothing more; it is
 * installed for the page-view figures only, and removed before the logins (which do write).
 */
export async function installSessionCounter(connect: () => Promise<pg.Client>): Promise<void> {
  const client = await connect();
  try {
    await client.query(`
      CREATE TABLE IF NOT EXISTS bench_session_writes (op text PRIMARY KEY, n bigint NOT NULL);
      CREATE OR REPLACE FUNCTION bench_count_session_write() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO bench_session_writes (op, n) VALUES (TG_OP, 1)
          ON CONFLICT (op) DO UPDATE SET n = bench_session_writes.n + 1;
        RETURN NULL;
      END $$;
      DROP TRIGGER IF EXISTS bench_count_session_writes ON sessions;
      CREATE TRIGGER bench_count_session_writes AFTER INSERT OR UPDATE OR DELETE ON sessions
        FOR EACH ROW EXECUTE FUNCTION bench_count_session_write();`);
  } finally {
    await client.end();
  }
}

export async function removeSessionCounter(connect: () => Promise<pg.Client>): Promise<void> {
  const client = await connect();
  try {
    await client.query(`
      DROP TRIGGER IF EXISTS bench_count_session_writes ON sessions;
      DROP FUNCTION IF EXISTS bench_count_session_write();
      DROP TABLE IF EXISTS bench_session_writes;`);
  } finally {
    await client.end();
  }
}

export async function sessionTally(connect: () => Promise<pg.Client>): Promise<SessionTally> {
  const client = await connect();
  try {
    const rows = (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM sessions')).rows[0]?.n ?? 0;
    const writes = new Map(
      (
        await client
          .query<{ op: string; n: string }>('SELECT op, n::text FROM bench_session_writes')
          .catch(() => ({ rows: [] as { op: string; n: string }[] }))
      ).rows.map((row) => [row.op, Number(row.n)]),
    );
    return {
      rows,
      inserts: writes.get('INSERT') ?? 0,
      updates: writes.get('UPDATE') ?? 0,
      deletes: writes.get('DELETE') ?? 0,
    };
  } finally {
    await client.end();
  }
}

export const tallyDelta = (before: SessionTally, after: SessionTally): SessionTally => ({
  rows: after.rows - before.rows,
  inserts: after.inserts - before.inserts,
  updates: after.updates - before.updates,
  deletes: after.deletes - before.deletes,
});
