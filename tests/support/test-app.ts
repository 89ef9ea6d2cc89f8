import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { PAGES_DIR, createApp } from '../../src/app.js';
import { type Config, parseConfig } from '../../src/config.js';
import { type Database, openDatabase } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { createLogger } from '../../src/http/logging.js';
import { type Mailer, createMailer } from '../../src/mail/mail-queue.js';
import type { MailTransport, OutgoingMail } from '../../src/mail/mail-transport.js';
import type { PasswordHasher } from '../../src/users/passwords.js';

export const TEST_SECRET = 'test-secret-that-is-long-enough-0123456789';

export interface TestApp {
  readonly app: Awaited<ReturnType<typeof createApp>>['app'];
  /** Every route the app declared (path, method, public or not). */
  readonly routes: Awaited<ReturnType<typeof createApp>>['routes'];
  readonly pool: pg.Pool;
  readonly config: Config;
  /** Every log line the app wrote, as text. */
  readonly logs: string[];
  /** The app's mail queue (its worker is not started: tests deliver with deliverMail()). */
  readonly mailer: Mailer;
  /**
   * Delivers what is due through the real queue and returns every message
   * delivered so far by this app (newest last), as the transport got it.
   */
  deliverMail(): Promise<OutgoingMail[]>;
  /** A second app on the same database, as another instance would be. */
  sibling(env?: Record<string, string>): Promise<TestApp>;
  close(): Promise<void>;
}

/**
 * A fresh database for one test file: with TEST_DATABASE_URL, a new database on
 * that server (named gatehouse_test_*, dropped at the end, so nothing else is
 * ever touched); without it, an embedded Postgres in a new temporary directory.
 */
export async function freshDatabase(): Promise<{ url: string | undefined; dataDir: string; drop(): Promise<void> }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'gh-'));
  const adminUrl = process.env['TEST_DATABASE_URL'];
  if (!adminUrl)
    return { url: undefined, dataDir, drop: async () => rmSync(dataDir, { recursive: true, force: true }) };

  const name = `gatehouse_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    dataDir,
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface TestAppOptions {
  /** Replaces bcrypt-at-the-configured-cost, e.g. with a wrapper that counts calls. */
  readonly passwords?: PasswordHasher;
  /** Runs the app's periodic sweeps (audit retention) this often; none by default in tests. */
  readonly housekeepingSeconds?: number;
  /** Where the app finds its pages (src/pages/ by default); a test adds a directory of its own. */
  readonly pageDirectories?: readonly string[];
  /** More template directories, after views/. */
  readonly viewDirectories?: readonly string[];
}

/**
 * The recipe test (tests/recipe.test.ts) runs the README's own test in a child vitest, with the
 * README's page and template in directories of their own, named by these two variables.
 */
function recipeDirectories(): { pageDirectories?: string[]; viewDirectories?: string[] } {
  const pages = process.env['GATEHOUSE_TEST_PAGES'];
  const views = process.env['GATEHOUSE_TEST_VIEWS'];
  return {
    ...(pages ? { pageDirectories: [PAGES_DIR, pages] } : {}),
    ...(views ? { viewDirectories: [views] } : {}),
  };
}

async function appOn(
  database: Pick<Database, 'pool'>,
  env: Record<string, string>,
  dataDir: string,
  url: string | undefined,
  options: TestAppOptions,
) {
  const config = parseConfig({
    NODE_ENV: 'test',
    BCRYPT_COST: '4',
    DATA_DIR: dataDir,
    SESSION_SECRET: TEST_SECRET,
    LOG_LEVEL: 'info',
    // Every test signs up and fails logins from 127.0.0.1: only the throttle tests set real limits.
    LOGIN_FAILURES_PER_ACCOUNT: '1000',
    LOGIN_FAILURES_PER_ACCOUNT_TOTAL: '100000',
    LOGIN_FAILURES_PER_IP: '100000',
    PASSWORD_CHECKS_PER_IP: '100000',
    SIGNUPS_PER_IP: '100000',
    // Many tests change addresses from 127.0.0.1; the mail-flow and throttle tests set the real limits.
    EMAIL_CHANGES_PER_USER: '100000',
    MAIL_LINKS_PER_IP: '100000',
    // A production sibling would otherwise need an SMTP server; the mail tests set SMTP_URL themselves.
    MAIL_TRANSPORT: 'outbox',
    ...(url ? { DATABASE_URL: url } : {}),
    ...env,
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = createLogger(config.logLevel, sink);
  // The real queue (sealed payloads, claims, retries) with a transport that keeps what it is given.
  const delivered: OutgoingMail[] = [];
  const transport: MailTransport = {
    deliver: async (mail) => {
      delivered.push(mail);
    },
    close: () => {},
  };
  const mailer = createMailer({ config, pool: database.pool, logger, secrets: config.sessionSecrets, transport });
  const { app, routes, close } = await createApp({
    config,
    db: database,
    logger,
    sessionSecrets: config.sessionSecrets,
    mailer,
    ...recipeDirectories(),
    ...options,
  });
  const deliverMail = async () => {
    await mailer.sendDue();
    return [...delivered];
  };
  const closeAll = async () => {
    await mailer.stop();
    await close();
  };
  return { app, routes, config, logs, mailer, deliverMail, close: closeAll };
}

export async function startTestApp(env: Record<string, string> = {}, options: TestAppOptions = {}): Promise<TestApp> {
  const fresh = await freshDatabase();
  const database = await openDatabase({ url: fresh.url, dataDir: fresh.dataDir });
  await migrate(database.pool);
  const closers: Array<() => Promise<void>> = [];

  const build = async (extra: Record<string, string>): Promise<TestApp> => {
    const made = await appOn(database, { ...env, ...extra }, fresh.dataDir, fresh.url, options);
    closers.push(made.close);
    return {
      app: made.app,
      routes: made.routes,
      pool: database.pool,
      config: made.config,
      logs: made.logs,
      mailer: made.mailer,
      deliverMail: made.deliverMail,
      sibling: (more = {}) => build({ ...extra, ...more }),
      async close() {
        for (const close of closers) await close();
        await database.close();
        await fresh.drop();
      },
    };
  };
  try {
    return await build({});
  } catch (error) {
    // createApp refused (a test makes it on purpose): leave no open pool and no database behind.
    for (const close of closers) await close();
    await database.close();
    await fresh.drop();
    throw error;
  }
}

/**
 * Every statement the app sends through `t.pool.query` while `visit` runs, oldest first, its
 * whitespace collapsed: the real pool, watched and then put back.
 */
export async function sqlDuring(t: Pick<TestApp, 'pool'>, visit: () => Promise<unknown>): Promise<string[]> {
  const original = t.pool.query;
  const sent: string[] = [];
  t.pool.query = ((...args: Parameters<typeof original>) => {
    const [query] = args as unknown[];
    const text = typeof query === 'string' ? query : String((query as { text?: unknown }).text);
    sent.push(text.replace(/\s+/g, ' ').trim());
    return (original as (...a: unknown[]) => unknown).apply(t.pool, args);
  }) as typeof original;
  try {
    await visit();
  } finally {
    t.pool.query = original;
  }
  return sent;
}
