import { createHmac } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { parseConfig } from '../src/config.js';
import { type Database, openDatabase } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import { createLogger } from '../src/http/logging.js';
import { createMailer } from '../src/mail/mail-queue.js';
import { Browser, PASSWORD } from './support/browser.js';
import { expectSentToLogin, isLoggedIn } from './support/pages.js';
import { loggedInBrowser, sessionRowsOf, sidHash, sidHashOf, sidOf, signUpFromLoopback } from './support/users.js';
import { enrolApp, sendCode, sendRecoveryCode, toSecondStep } from './support/two-factor.js';
import { awayFromStepEdge, stepAt, totpCode } from './support/totp.js';
import { TEST_SECRET, type TestApp, freshDatabase, startTestApp } from './support/test-app.js';

/**
 * How sessions are kept (issue 19): the table holds a hash of each session id, never the id
 * (finding 8), and a flood of logins waiting for their second factor cannot push the owner's real
 * sessions out (finding 3).
 */

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * A session cookie carrying `value` as its id, signed with the test secret the way express-session
 * signs one (cookie-signature: "s:" + value + "." + HMAC-SHA-256 in base64 without padding).
 */
function sessionCookieFor(value: string): string {
  const signature = createHmac('sha256', TEST_SECRET).update(value).digest('base64').replace(/=+$/, '');
  return `gatehouse.sid=${encodeURIComponent(`s:${value}.${signature}`)}`;
}

/** Logs in with "remember me" ticked from a fresh browser; fails the test unless it logs in. */
async function rememberedBrowser(app: TestApp['app'], email: string): Promise<Browser> {
  const browser = new Browser(app);
  const response = await browser.submit('/login', '/login', { email, password: PASSWORD, remember: '1' });
  expect(response.status).toBe(303);
  expect(response.headers['location']).toBe('/');
  return browser;
}

/** The user's session rows that are logins waiting for their second factor. */
const pendingRowsOf = async (app: TestApp, userId: string) =>
  (await app.pool.query<{ sid: string }>('SELECT sid FROM sessions WHERE user_id = $1 AND pending', [userId])).rows.map(
    (row) => row.sid,
  );

/** Whether a row with this stored sid exists. */
const hasRow = async (app: Pick<TestApp, 'pool'>, storedSid: string) =>
  ((await app.pool.query('SELECT 1 FROM sessions WHERE sid = $1', [storedSid])).rowCount ?? 0) === 1;

/** How many seconds the row behind the browser's session has left. */
const secondsLeft = async (app: Pick<TestApp, 'pool'>, browser: Browser) =>
  (
    await app.pool.query<{ seconds: number }>(
      'SELECT extract(epoch FROM expire - localtimestamp)::float8 AS seconds FROM sessions WHERE sid = $1',
      [sidHashOf(browser)],
    )
  ).rows[0]?.seconds ?? Number.NaN;

describe('sessions.sid holds the hash of the session id', () => {
  it('is the SHA-256 (lower-case hex) of the id in the cookie, and no column of the row holds the id', async () => {
    const user = await signUpFromLoopback(t);
    const second = await loggedInBrowser(t.app, user.email);
    expect(await isLoggedIn(user.browser)).toBe(true);
    for (const browser of [user.browser, second]) {
      const id = sidOf(browser);
      const { rows } = await t.pool.query<{ sid: string; whole: string }>(
        'SELECT s.sid, to_jsonb(s)::text AS whole FROM sessions s WHERE s.sid = $1',
        [sidHash(id)],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]?.sid).toMatch(/^[0-9a-f]{64}$/);
      // Every column, the JSON included, as text: the id is in none of them, in any table row.
      expect(rows[0]?.whole).not.toContain(id);
      const anywhere = await t.pool.query('SELECT 1 FROM sessions s WHERE strpos(to_jsonb(s)::text, $1) > 0', [id]);
      expect(anywhere.rowCount).toBe(0);
    }
    expect((await sessionRowsOf(t, user.id)).map((row) => row.sid).sort()).toEqual(
      [sidHashOf(user.browser), sidHashOf(second)].sort(),
    );
  });

  it('hashes a login waiting for its second factor too', async () => {
    const user = await signUpFromLoopback(t);
    await enrolApp(user.browser);
    const pending = new Browser(t.app);
    await toSecondStep(pending, user.email, PASSWORD, { remember: '1' });
    expect(await pendingRowsOf(t, user.id)).toEqual([sidHashOf(pending)]);
    const anywhere = await t.pool.query('SELECT 1 FROM sessions s WHERE strpos(to_jsonb(s)::text, $1) > 0', [
      sidOf(pending),
    ]);
    expect(anywhere.rowCount).toBe(0);
  });

  it('logs nobody in with the stored hash presented as the cookie, and the id itself does', async () => {
    const user = await signUpFromLoopback(t);
    const id = sidOf(user.browser);
    // The cookie made here is right: the id in it opens the account...
    const withId = await request(t.app).get('/').set('Cookie', sessionCookieFor(id));
    expect(withId.status).toBe(200);
    expect(withId.text).toContain(user.name);
    // ...and what a reader of the table holds opens nothing.
    expectSentToLogin(
      await request(t.app)
        .get('/')
        .set('Cookie', sessionCookieFor(sidHash(id))),
      '/',
    );
    expectSentToLogin(
      await request(t.app)
        .get('/account')
        .set('Cookie', sessionCookieFor(sidHash(id))),
      '/account',
    );
    expect(await isLoggedIn(user.browser)).toBe(true);
  });

  it('deletes the hashed row at logout, and the old cookie opens nothing', async () => {
    const user = await signUpFromLoopback(t);
    const stored = sidHashOf(user.browser);
    const cookie = user.browser.sessionCookie() ?? '';
    expect(await hasRow(t, stored)).toBe(true);
    expect((await user.browser.submit('/', '/logout', {})).status).toBe(303);
    expect(await hasRow(t, stored)).toBe(false);
    expectSentToLogin(await request(t.app).get('/').set('Cookie', cookie), '/');
  });
});

describe('a session written before migration 013', () => {
  /** The migrations before 013, whatever comes after it. */
  const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));
  const before013 = readdirSync(MIGRATIONS_DIR).filter((name) => name.endsWith('.sql') && name < '013').length;

  let fresh: Awaited<ReturnType<typeof freshDatabase>>;
  let database: Database;
  let closeApp = async () => {};
  beforeAll(async () => {
    fresh = await freshDatabase();
    database = await openDatabase({ url: fresh.url, dataDir: fresh.dataDir });
  });
  afterAll(async () => {
    await closeApp();
    await database.close();
    await fresh.drop();
  });

  /** The app on this database, as startTestApp makes one (no mail goes anywhere). */
  async function appOnDatabase() {
    const config = parseConfig({
      NODE_ENV: 'test',
      BCRYPT_COST: '4',
      DATA_DIR: fresh.dataDir,
      SESSION_SECRET: TEST_SECRET,
      LOG_LEVEL: 'silent',
      MAIL_TRANSPORT: 'outbox',
      ...(fresh.url ? { DATABASE_URL: fresh.url } : {}),
    });
    const logger = createLogger(config.logLevel, new Writable({ write: (_chunk, _encoding, done) => done() }));
    const mailer = createMailer({
      config,
      pool: database.pool,
      logger,
      secrets: config.sessionSecrets,
      transport: { deliver: async () => {}, close: () => {} },
    });
    const made = await createApp({ config, db: database, logger, sessionSecrets: config.sessionSecrets, mailer });
    closeApp = async () => {
      await mailer.stop();
      await made.close();
    };
    return made.app;
  }

  it('still works after it: the id is hashed in place, "remember me" and all', async () => {
    expect(before013).toBe(12);
    const client = await database.pool.connect();
    try {
      await runner({
        dbClient: client,
        dir: MIGRATIONS_DIR,
        migrationsTable: 'pgmigrations',
        direction: 'up',
        count: before013,
        log: () => {},
      });
    } finally {
      client.release();
    }

    // A user and two sessions as the code before 013 wrote them: the raw id in sid.
    const { rows } = await database.pool.query<{ id: number }>(
      `INSERT INTO users (name, email, password_hash) VALUES ('Early Bird', 'early@example.com', '$2b$04$notahash')
       RETURNING id`,
    );
    const userId = rows[0]?.id;
    const now = Date.now();
    const plainId = 'AAAAoldSessionIdFromBefore013xxx';
    const rememberedId = 'BBBBoldRememberedSessionIdFrom13';
    const write = (id: string, maxAgeMs: number | null, expireSql: string) =>
      database.pool.query(
        `INSERT INTO sessions (sid, sess, expire, user_id, ip, user_agent, created_at, pending)
         VALUES ($1, $2, ${expireSql}, $3, '127.0.0.1', 'curl/8', now(), false)`,
        [
          id,
          JSON.stringify({
            cookie: {
              originalMaxAge: maxAgeMs,
              expires: maxAgeMs === null ? null : new Date(now + maxAgeMs).toISOString(),
              secure: false,
              httpOnly: true,
              path: '/',
              sameSite: 'lax',
            },
            userId,
            authAt: now,
          }),
          userId,
        ],
      );
    await write(plainId, null, "localtimestamp + interval '1 hour'");
    await write(rememberedId, 30 * DAY_MS, "localtimestamp + interval '30 days'");

    const applied = await migrate(database.pool);
    expect(applied).toContain('013-hashed-session-ids');

    const stored = await database.pool.query<{ sid: string }>('SELECT sid FROM sessions ORDER BY sid');
    expect(stored.rows.map((row) => row.sid)).toEqual([sidHash(plainId), sidHash(rememberedId)].sort());

    const app = await appOnDatabase();
    for (const id of [plainId, rememberedId]) {
      const page = await request(app).get('/').set('Cookie', sessionCookieFor(id));
      expect(page.status).toBe(200);
      expect(page.text).toContain('Early Bird');
    }
    // The remembered one still has its 30 days.
    const left = await database.pool.query<{ seconds: number }>(
      'SELECT extract(epoch FROM expire - localtimestamp)::float8 AS seconds FROM sessions WHERE sid = $1',
      [sidHash(rememberedId)],
    );
    expect(left.rows[0]?.seconds).toBeGreaterThan(29 * 24 * 60 * 60);
  });
});

describe('logins waiting for their second factor', () => {
  it("105 of them, right password and no code, end none of the owner's sessions; the newest still works", async () => {
    const owner = await signUpFromLoopback(t);
    // A "remember me" login from another browser, before the app is set up (so no code is used).
    const remembered = await rememberedBrowser(t.app, owner.email);
    const { secret } = await enrolApp(owner.browser);
    expect(await secondsLeft(t, remembered)).toBeGreaterThan((29 * DAY_MS) / 1000);

    // Someone with the password logs in from 105 fresh browsers and never gives a code.
    const attackers: Browser[] = [];
    for (let i = 0; i < 105; i += 1) {
      const browser = new Browser(t.app);
      await toSecondStep(browser, owner.email);
      attackers.push(browser);
    }

    expect(await isLoggedIn(owner.browser)).toBe(true);
    expect(await isLoggedIn(remembered)).toBe(true);
    expect(await secondsLeft(t, remembered)).toBeGreaterThan((29 * DAY_MS) / 1000);

    // At most 20 wait at a time: the newest 20; the oldest went.
    const pending = await pendingRowsOf(t, owner.id);
    expect(pending).toHaveLength(20);
    expect(pending.sort()).toEqual(attackers.slice(-20).map(sidHashOf).sort());
    expect(await hasRow(t, sidHashOf(attackers[0]!))).toBe(false);
    expect((await attackers[0]!.get('/login/two-factor')).headers['location']).toBe('/login');

    // "My sessions" lists the two real ones and no pending login.
    const page = await owner.browser.get('/account/sessions');
    expect(page.status).toBe(200);
    expect(page.text.split('<li class="session').length - 1).toBe(2);
    const listed = [...page.text.matchAll(/name="id" value="([^"]+)"/g)].map((match) => match[1]);
    const rememberedId = (await sessionRowsOf(t, owner.id)).find((row) => row.sid === sidHashOf(remembered))?.id;
    expect(listed).toEqual([rememberedId]);

    // The owner's own login, newest of all, still goes through with a code.
    const own = new Browser(t.app);
    await toSecondStep(own, owner.email);
    expect(await pendingRowsOf(t, owner.id)).toHaveLength(20);
    await awayFromStepEdge();
    const done = await sendCode(own, totpCode(secret, stepAt()));
    expect(done.status).toBe(303);
    expect(await isLoggedIn(own)).toBe(true);
    for (const browser of [owner.browser, remembered]) expect(await isLoggedIn(browser)).toBe(true);
    expect(await pendingRowsOf(t, owner.id)).toHaveLength(19);
  }, 180_000);

  describe('with caps of 3 sessions and 2 pending logins', () => {
    let capped: TestApp;
    beforeAll(async () => {
      capped = await startTestApp({ SESSIONS_PER_USER: '3', PENDING_LOGINS_PER_USER: '2' });
    });
    afterAll(async () => {
      await capped.close();
    });

    /** Finishes a login at the second step with a recovery code (no clock involved). */
    async function completedLogin(email: string, code: string): Promise<Browser> {
      const browser = new Browser(capped.app);
      await toSecondStep(browser, email);
      const done = await sendRecoveryCode(browser, code);
      expect(done.status).toBe(303);
      return browser;
    }

    const lastSeenAgo = (browser: Browser, interval: string) =>
      capped.pool.query(
        `UPDATE sessions SET last_seen_at = now() - $2::interval, created_at = now() - $2::interval WHERE sid = $1`,
        [sidHashOf(browser), interval],
      );

    it('a pending login beyond its cap ends the oldest pending one, and never a session', async () => {
      const owner = await signUpFromLoopback(capped);
      const { codes } = await enrolApp(owner.browser);
      const second = await completedLogin(owner.email, codes[0]!);
      const third = await completedLogin(owner.email, codes[1]!);
      const waiting: Browser[] = [];
      for (let i = 0; i < 4; i += 1) {
        const browser = new Browser(capped.app);
        await toSecondStep(browser, owner.email);
        waiting.push(browser);
      }
      for (const browser of [owner.browser, second, third]) expect(await isLoggedIn(browser)).toBe(true);
      expect((await pendingRowsOf(capped, owner.id)).sort()).toEqual(waiting.slice(-2).map(sidHashOf).sort());
    });

    it('a login beyond SESSIONS_PER_USER ends the least recently used session, not a pending login', async () => {
      const owner = await signUpFromLoopback(capped);
      const { codes } = await enrolApp(owner.browser);
      const second = await completedLogin(owner.email, codes[0]!);
      const third = await completedLogin(owner.email, codes[1]!);
      // A pending login, the least recently used row of all, and the second login less recently used
      // than the other two.
      const waiting = new Browser(capped.app);
      await toSecondStep(waiting, owner.email);
      await lastSeenAgo(waiting, '2 hours');
      await lastSeenAgo(second, '1 hour');

      const fourth = await completedLogin(owner.email, codes[2]!);
      expect(await isLoggedIn(second)).toBe(false);
      for (const browser of [owner.browser, third, fourth]) expect(await isLoggedIn(browser)).toBe(true);
      const { rows } = await capped.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM sessions WHERE user_id = $1 AND NOT pending',
        [owner.id],
      );
      expect(rows[0]?.n).toBe(3);
      // The pending login is still there, and still goes through.
      expect(await hasRow(capped, sidHashOf(waiting))).toBe(true);
      expect((await waiting.get('/login/two-factor')).status).toBe(200);
      expect((await sendRecoveryCode(waiting, codes[3]!)).status).toBe(303);
      expect(await isLoggedIn(waiting)).toBe(true);
    });
  });
});
