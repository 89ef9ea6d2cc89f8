/**
 * One bench server process, started by bench/run.ts over IPC: Gatehouse built
 * with createApp (as the tests build it) and, when asked, a bare Express 5
 * "hello" app in the same process, both on 127.0.0.1. It counts every SQL
 * round trip the process makes and the ones that write a session row, and
 * answers the runner's questions (counters, peak RSS, timed bare bcrypt
 * comparisons, the heap after a forced GC) over the IPC channel. The runner
 * starts it with --expose-gc.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import bcrypt from 'bcrypt';
import express from 'express';
import pg from 'pg';
import { createMailer } from '../src/mail/mail-queue.js';
import { createApp } from '../src/app.js';
import { parseConfig } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import { createLogger } from '../src/http/logging.js';
import { BENCH_SECRET, type ChildReply, type ChildRequest } from './protocol.js';

const counters = { queries: 0, sessionWrites: 0 };
/** Round trips by statement (its first words), so a count can be explained. */
const byStatement = new Map<string, number>();
const SESSION_WRITE = /^\s*(insert|update|delete)\b[\s\S]*\bsessions\b/i;

// Every pool.query and every query on a checked-out client ends in Client#query: one round trip each.
type QueryFn = (this: pg.Client, ...args: unknown[]) => unknown;
const clientPrototype = pg.Client.prototype as unknown as { query: QueryFn };
const originalQuery = clientPrototype.query;
clientPrototype.query = function (this: pg.Client, ...args: unknown[]) {
  const first = args[0];
  const text = typeof first === 'string' ? first : ((first as { text?: unknown } | null)?.text ?? '');
  counters.queries += 1;
  if (typeof text === 'string') {
    const key = text.replace(/\s+/g, ' ').trim().slice(0, 60);
    byStatement.set(key, (byStatement.get(key) ?? 0) + 1);
  }
  if (typeof text === 'string' && SESSION_WRITE.test(text)) counters.sessionWrites += 1;
  return originalQuery.apply(this, args);
};

function listen(app: express.Express, port = 0): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, '127.0.0.1');
    server.once('listening', () => resolve(server));
    server.once('error', reject);
  });
}

const portOf = (server: Server): number => (server.address() as AddressInfo).port;

function send(reply: ChildReply): void {
  process.send?.(reply);
}

async function main(): Promise<void> {
  const env = process.env;
  const cost = env['BENCH_COST'] ?? '12';
  const config = parseConfig({
    NODE_ENV: 'test', // cached views, no prune timers, plain (non-Secure) cookies over http
    BCRYPT_COST: cost,
    DATA_DIR: env['BENCH_DATA_DIR'] ?? '.',
    DATABASE_URL: env['BENCH_DATABASE_URL'],
    SESSION_SECRET: BENCH_SECRET,
    LOG_LEVEL: 'silent',
    // One address logs in thousands of times: the throttle must not be what is measured.
    LOGIN_FAILURES_PER_ACCOUNT: '1000000',
    LOGIN_FAILURES_PER_IP: '1000000',
    PASSWORD_CHECKS_PER_IP: '1000000',
    LOGIN_FAILURES_PER_ACCOUNT_TOTAL: '1000000',
    SIGNUPS_PER_IP: '1000000',
  });
  const db = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
  await migrate(db.pool);
  const logger = createLogger('silent');
  // Mail is queued (signup sends a verification link) but never delivered here: no worker runs.
  const mailer = createMailer({ config, pool: db.pool, logger, secrets: config.sessionSecrets });
  const gatehouse = createApp({ config, db, logger, sessionSecrets: config.sessionSecrets, mailer });
  const appServer = await listen(gatehouse.app);

  let helloServer: Server | undefined;
  if (env['BENCH_HELLO'] === '1') {
    const hello = express();
    hello.disable('x-powered-by');
    hello.get('/', (_req, res) => {
      res.send('hello');
    });
    helloServer = await listen(hello);
  }

  const stop = async () => {
    helloServer?.close();
    appServer.close();
    appServer.closeAllConnections();
    helloServer?.closeAllConnections();
    await gatehouse.close();
    await db.close();
    process.exit(0);
  };

  process.on('message', (message: ChildRequest) => {
    switch (message.type) {
      case 'counters':
        send({
          type: 'counters',
          queries: counters.queries,
          sessionWrites: counters.sessionWrites,
          byStatement: Object.fromEntries(byStatement),
          maxRssBytes: process.resourceUsage().maxRSS * 1024,
        });
        break;
      case 'bcrypt':
        void (async () => {
          const hash = await bcrypt.hash('a bench password, long enough', Number(cost));
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
        if (typeof globalThis.gc !== 'function') throw new Error('the bench server needs --expose-gc');
        // Twice: the first full collection can leave finalised objects for the second.
        globalThis.gc();
        globalThis.gc();
        const memory = process.memoryUsage();
        send({ type: 'heap', heapUsedBytes: memory.heapUsed, rssBytes: memory.rss });
        break;
      }
      case 'stop':
        void stop();
        break;
    }
  });
  process.on('disconnect', () => void stop());

  send({
    type: 'ready',
    appPort: portOf(appServer),
    helloPort: helloServer ? portOf(helloServer) : null,
    embedded: db.embedded,
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`bench server could not start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
