import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import type pg from 'pg';

const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');

/**
 * Applies pending migrations/*.sql in order, each once. node-pg-migrate takes a
 * Postgres advisory lock first; with "wait", a second instance starting at the
 * same moment waits for the first, then finds nothing left to do.
 * Throws on a failed migration: the caller must exit non-zero.
 */
export async function migrate(pool: pg.Pool, log: (message: string) => void = () => {}): Promise<string[]> {
  const client = await pool.connect();
  try {
    const applied = await runner({
      dbClient: client,
      dir: MIGRATIONS_DIR,
      migrationsTable: 'pgmigrations',
      direction: 'up',
      checkOrder: true,
      advisoryLockMode: 'wait',
      log,
    });
    return applied.map((migration) => migration.name);
  } finally {
    client.release();
  }
}
