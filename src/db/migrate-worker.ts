import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';
import type { ConnectionOptions } from './database.js';
import { migrate } from './migrate.js';

/**
 * The migrations, run in a worker thread by migrateInWorker(): node-pg-migrate and what it
 * loads (some megabytes) live in this thread's heap and go when it ends.
 */
const connection = workerData as ConnectionOptions;
const pool = new pg.Pool({ ...connection, max: 1, connectionTimeoutMillis: 5000 });
pool.on('error', () => {});
try {
  parentPort?.postMessage({ applied: await migrate(pool) });
} catch (error) {
  parentPort?.postMessage({ error: error instanceof Error ? error.message : String(error) });
} finally {
  await pool.end();
}
