import { Worker } from 'node:worker_threads';
import type pg from 'pg';
import type { ConnectionOptions } from './database.js';

/**
 * Applies pending migrations (see migrate.ts) from a worker thread with a connection of its own,
 * so that the serving process never holds node-pg-migrate. Resolves to the names applied; rejects
 * with the migration's own message when one fails. Run from the TypeScript sources (npm run dev),
 * where a worker cannot load them, it migrates in this thread.
 */
export async function migrateInWorker(connection: ConnectionOptions, pool: pg.Pool): Promise<string[]> {
  if (import.meta.url.endsWith('.ts')) {
    const { migrate } = await import('./migrate.js');
    return migrate(pool);
  }
  const worker = new Worker(new URL('./migrate-worker.js', import.meta.url), { workerData: { ...connection } });
  return new Promise<string[]>((resolve, reject) => {
    let answered = false;
    worker.once('message', (message: { applied?: string[]; error?: string }) => {
      answered = true;
      if (message.error !== undefined) reject(new Error(message.error));
      else resolve(message.applied ?? []);
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (!answered) reject(new Error(`the migration worker stopped (exit code ${code}) without an answer`));
    });
  });
}
