/**
 * The instrumented copy: the same compiled app as `npm start` (dist/, never src/), put together
 * the way dist/server.js does it (config from the environment, which bench/run.ts sets exactly as
 * it does for the deployed process: production mode, logs at info), with three additions only a
 * process of its own can have:
 * - every SQL round trip it makes is counted (pg.Client#query is patched, which every pool.query
 *   and every query on a checked-out client ends in), by statement, and the ones that write the
 *   sessions table separately;
 * - the heap can be read after a forced full GC (bench/run.ts starts it with --expose-gc);
 * - it times bare bcrypt.compare calls at the app's cost, for the login figure.
 * It does not start the mail worker (dist/server.js does): its poll every 5 s would land in the
 * counts. It answers bench/run.ts over the IPC channel (bench/protocol.ts).
 */
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import bcrypt from 'bcrypt';
import pg from 'pg';
import type { CopyReply, CopyRequest } from './protocol.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const counters = { queries: 0, sessionWrites: 0 };
const byStatement = new Map<string, number>();
const SESSION_WRITE = /^\s*(insert\s+into|update|delete\s+from)\s+sessions\b/i;

type QueryFn = (this: pg.Client, ...args: unknown[]) => unknown;
const clientPrototype = pg.Client.prototype as unknown as { query: QueryFn };
const originalQuery = clientPrototype.query;
clientPrototype.query = function (this: pg.Client, ...args: unknown[]) {
  const first = args[0];
  const text = typeof first === 'string' ? first : (first as { text?: unknown } | null)?.text;
  counters.queries += 1;
  if (typeof text === 'string') {
    const key = text.replace(/\s+/g, ' ').trim().slice(0, 60);
    byStatement.set(key, (byStatement.get(key) ?? 0) + 1);
    if (SESSION_WRITE.test(text)) counters.sessionWrites += 1;
  }
  return originalQuery.apply(this, args);
};

/** A module of the compiled app, typed by the source it was compiled from. */
const dist = <T>(file: string): Promise<T> => import(pathToFileURL(path.join(ROOT, 'dist', file)).href) as Promise<T>;

function send(reply: CopyReply): void {
  process.send?.(reply);
}

async function main(): Promise<void> {
  const { parseConfig } = await dist<typeof import('../src/config.js')>('config.js');
  const { createApp } = await dist<typeof import('../src/app.js')>('app.js');
  const { openDatabase } = await dist<typeof import('../src/db/database.js')>('db/database.js');
  const { migrateInWorker } = await dist<typeof import('../src/db/migrate-in-worker.js')>('db/migrate-in-worker.js');
  const { createLogger } = await dist<typeof import('../src/http/logging.js')>('http/logging.js');
  const { sessionSecrets } = await dist<typeof import('../src/http/session-secret.js')>('http/session-secret.js');
  const { createMailer } = await dist<typeof import('../src/mail/mail-queue.js')>('mail/mail-queue.js');
  const { appServer } = await dist<typeof import('../src/http/app-server.js')>('http/app-server.js');

  const config = parseConfig(process.env);
  const logger = createLogger(config.logLevel);
  const db = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
  await migrateInWorker(db.connection, db.pool);
  const secrets = sessionSecrets(config);
  const mailer = createMailer({ config, pool: db.pool, logger, secrets });
  const gatehouse = await createApp({ config, db, logger, sessionSecrets: secrets, mailer });
  const server = appServer(gatehouse.app).listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    server.close();
    server.closeAllConnections();
    await gatehouse.close();
    await db.close();
    process.exit(0);
  };

  process.on('message', (message: CopyRequest) => {
    switch (message.type) {
      case 'counters':
        send({
          type: 'counters',
          queries: counters.queries,
          sessionWrites: counters.sessionWrites,
          byStatement: Object.fromEntries(byStatement),
        });
        break;
      case 'bcrypt':
        void (async () => {
          const hash = await bcrypt.hash('a bench password, long enough', config.bcryptCost);
          const times: number[] = [];
          const until = performance.now() + message.ms;
          while (times.length < message.min || performance.now() < until) {
            const start = performance.now();
            await bcrypt.compare('a bench password, long enough', hash);
            times.push(performance.now() - start);
          }
          send({ type: 'bcrypt', times });
        })();
        break;
      case 'heap': {
        if (typeof globalThis.gc !== 'function') throw new Error('the instrumented copy needs --expose-gc');
        // Twice: the first full collection can leave finalised objects for the second.
        globalThis.gc();
        globalThis.gc();
        const memory = process.memoryUsage();
        send({ type: 'heap', heapUsedBytes: memory.heapUsed, rssBytes: memory.rss });
        break;
      }
    }
  });
  process.on('disconnect', () => void stop());
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());

  send({ type: 'ready', port: (server.address() as AddressInfo).port });
}

main().catch((error: unknown) => {
  process.stderr.write(
    `the instrumented copy could not start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
