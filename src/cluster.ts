/**
 * `npm run start:cluster`: one Gatehouse process per core on one port.
 *
 * The primary forks WEB_CONCURRENCY workers (default: one per core); each runs
 * the normal server (src/server.ts: config → database → migrate → listen),
 * and node's cluster module shares the listening port between them. Nothing a
 * request needs lives in process memory (sessions, throttle counts and the
 * audit trail are rows in Postgres), so any worker can answer any request.
 *
 * A worker that dies while serving is replaced, with a log line. SIGTERM or
 * SIGINT is passed on to every worker, each drains as `npm start` does, and the
 * primary exits once all have exited: 0 if every one exited cleanly. A worker
 * that cannot start (a taken port, an unreachable database) stops the whole
 * cluster with its own one-line message rather than being restarted in a loop.
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './http/logging.js';

/** How long the workers get to drain after a signal (each gives itself 10 s) before they are killed. */
const STOP_DEADLINE_MS = 15_000;

const webConcurrency = z
  .string()
  .trim()
  .regex(/^\d+$/, 'must be a whole number')
  .transform(Number)
  .pipe(z.number().int().min(1).max(1024))
  .optional();

async function primary(): Promise<void> {
  // The same configuration the workers will read (environment, then .env): a bad key stops here, once.
  const config = loadConfig();
  if (config.databaseUrl === undefined) {
    throw new ConfigError(
      'Invalid configuration: DATABASE_URL must be set to run a cluster (the embedded database serves one process; use npm start)',
    );
  }
  const parsed = webConcurrency.safeParse(process.env['WEB_CONCURRENCY'] || undefined);
  if (!parsed.success) {
    throw new ConfigError(
      `Invalid configuration: WEB_CONCURRENCY ${parsed.error.issues[0]?.message ?? 'is invalid'} (1 to 1024)`,
    );
  }
  const count = parsed.data ?? availableParallelism();
  const logger = createLogger(config.logLevel);

  let stopping = false;
  let failed = false;
  const listening = new WeakSet<Worker>();

  const fork = () => cluster.fork();
  const alive = () => Object.values(cluster.workers ?? {}).filter((worker) => worker !== undefined);
  const finishIfDone = () => {
    if (stopping && alive().length === 0) process.exit(failed ? 1 : 0);
  };
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, workers: alive().length }, 'cluster shutting down');
    for (const worker of alive()) worker.process.kill(signal);
    setTimeout(() => {
      for (const worker of alive()) worker.process.kill('SIGKILL');
      process.exit(1);
    }, STOP_DEADLINE_MS).unref();
    finishIfDone();
  };

  cluster.on('listening', (worker) => {
    listening.add(worker);
    logger.info({ worker: worker.process.pid }, `worker ${worker.process.pid ?? '?'} listening`);
  });
  cluster.on('exit', (worker, code, signal) => {
    const how = signal ?? `code ${code}`;
    if (stopping) {
      if (code !== 0) failed = true;
      logger.info({ worker: worker.process.pid, code, signal }, `worker ${worker.process.pid ?? '?'} exited (${how})`);
      finishIfDone();
      return;
    }
    if (!listening.has(worker)) {
      // It never served: it has printed why (config, port, database); restarting would only repeat it.
      failed = true;
      logger.error({ worker: worker.process.pid, code, signal }, 'a worker could not start; stopping the cluster');
      stop('SIGTERM');
      return;
    }
    logger.error(
      { worker: worker.process.pid, code, signal },
      `worker ${worker.process.pid ?? '?'} died (${how}); starting a new one`,
    );
    fork();
  });

  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  logger.info({ workers: count }, `Gatehouse cluster: starting ${count} workers`);
  for (let i = 0; i < count; i++) fork();
}

if (cluster.isPrimary) {
  primary().catch((error: unknown) => {
    process.stderr.write(
      error instanceof ConfigError
        ? `${error.message}\n`
        : `Gatehouse cluster could not start: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  });
} else {
  // A worker is the normal server: it listens through the primary's shared handle.
  await import('./server.js');
}
