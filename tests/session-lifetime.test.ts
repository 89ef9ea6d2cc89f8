import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import express from 'express';
import request from 'supertest';
import { createSessions } from '../src/http/session.js';
import { type TestApp, sqlDuring, startTestApp, TEST_SECRET } from './support/test-app.js';
import { Browser, signedUpBrowser, signupFields } from './support/browser.js';
import { loginAgo, sidHashOf, sidOf } from './support/users.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

const rowOf = async (browser: Browser) =>
  (
    await t.pool.query<{ sess: Record<string, unknown>; seconds_left: number }>(
      'SELECT sess, extract(epoch FROM expire - now()::timestamp)::float AS seconds_left FROM sessions WHERE sid = $1',
      [sidHashOf(browser)],
    )
  ).rows[0];

describe('idle timeout and absolute lifetime', () => {
  it('gives a logged-in session without "remember me" a row that expires after the idle timeout, not a day', async () => {
    const { browser } = await signedUpBrowser(t.app);
    await browser.get('/');
    const row = await rowOf(browser);
    expect(row?.seconds_left).toBeGreaterThan(59 * 60);
    expect(row?.seconds_left).toBeLessThanOrEqual(60 * 60 + 5);
  });

  it('gives every login a session id of 192 random bits (32 base64url characters), never one seen before', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const { browser } = await signedUpBrowser(t.app);
      const sid = sidOf(browser);
      expect(sid).toMatch(/^[A-Za-z0-9_-]{32}$/);
      ids.add(sid);
    }
    expect(ids.size).toBe(40);
    // Not a run of zeros: the pool's bytes are handed out before they are cleared.
    for (const id of ids) expect(Buffer.from(id, 'base64url').some((byte) => byte !== 0)).toBe(true);
  });

  it('gives a visitor who only viewed a form no session at all: no cookie, no row', async () => {
    const browser = new Browser(t.app);
    const page = await browser.get('/login');
    expect(page.status).toBe(200);
    expect(browser.sessionCookie()).toBeUndefined();
    expect(String(page.headers['set-cookie'])).not.toMatch(/gatehouse\.sid=/);
  });

  it('follows SESSION_IDLE_MINUTES', async () => {
    const short = await t.sibling({ SESSION_IDLE_MINUTES: '5' });
    const { browser } = await signedUpBrowser(short.app);
    await browser.get('/');
    const left = (await rowOf(browser))?.seconds_left;
    expect(left).toBeLessThanOrEqual(5 * 60 + 5);
    expect(left).toBeGreaterThan(4 * 60);
  });

  it('moves the idle deadline forward with each request', async () => {
    const { browser } = await signedUpBrowser(t.app);
    await t.pool.query("UPDATE sessions SET expire = now()::timestamp + interval '10 minutes' WHERE sid = $1", [
      sidHashOf(browser),
    ]);
    expect((await browser.get('/')).status).toBe(200);
    expect((await rowOf(browser))?.seconds_left).toBeGreaterThan(59 * 60);
  });

  it('ends a session that was idle too long, on the server, whatever the cookie says', async () => {
    const { browser } = await signedUpBrowser(t.app);
    await t.pool.query("UPDATE sessions SET expire = now()::timestamp - interval '1 second' WHERE sid = $1", [
      sidHashOf(browser),
    ]);
    const response = await browser.get('/');
    expect(response.status).toBe(302);
    expect(response.headers['location']).toBe('/login?next=%2F');
  });

  it('ends even a busy remembered session once it is older than the absolute lifetime', async () => {
    const browser = new Browser(t.app);
    const fields = signupFields();
    await browser.submit('/signup', '/signup', { ...fields });
    await browser.submit('/', '/logout', {});
    const login = await browser.submit('/login', '/login', {
      email: fields.email,
      password: fields.password,
      remember: '1',
    });
    expect(login.status).toBe(303);
    await loginAgo(t, browser, 31 * 24 * 60); // 31 days
    const response = await browser.get('/');
    expect(response.status).toBe(302);
    const page = await browser.get(response.headers['location'] ?? '/login');
    expect(page.text).toContain('Your session has expired. Please log in again.');
  });

  it('gives a remembered session a 30-day cookie and a row that lasts as long', async () => {
    const { fields } = await signedUpBrowser(t.app);
    const browser = new Browser(t.app);
    const login = await browser.submit('/login', '/login', {
      email: fields.email,
      password: fields.password,
      remember: '1',
    });
    const cookie = String(login.headers['set-cookie']);
    const expires = Date.parse(/Expires=([^;]+)/.exec(cookie)?.[1] ?? '');
    expect(expires - Date.now()).toBeGreaterThan(29.9 * 24 * 60 * 60 * 1000);
    expect((await rowOf(browser))?.seconds_left).toBeGreaterThan(29.9 * 24 * 60 * 60);
  });
});

describe('what a page view costs the database', () => {
  const writes = (sent: string[]) => sent.filter((text) => /^(INSERT|UPDATE|DELETE)/i.test(text));

  it('reads the session and its user in one statement, and writes nothing, on an authenticated view', async () => {
    const { browser } = await signedUpBrowser(t.app);
    // The first view too: the nav's logout token was made at the login, with the session.
    for (let view = 0; view < 3; view += 1) {
      const sent = await sqlDuring(t, () => browser.get('/').expect(200));
      expect(sent).toHaveLength(1);
      expect(sent[0]).toMatch(/FROM sessions s LEFT JOIN users u/);
      expect(writes(sent)).toEqual([]);
    }
  });

  it('moves the expiry again once it is a minute or more behind', async () => {
    const { browser } = await signedUpBrowser(t.app);
    await browser.get('/');
    await t.pool.query("UPDATE sessions SET expire = expire - interval '2 minutes' WHERE sid = $1", [
      sidHashOf(browser),
    ]);
    const sent = await sqlDuring(t, () => browser.get('/').expect(200));
    expect(writes(sent)).toHaveLength(1);
    expect(writes(sent)[0]).toMatch(/^UPDATE "?sessions"? SET expire/);
    expect((await rowOf(browser))?.seconds_left).toBeGreaterThan(59 * 60);
  });

  it('moves it once when several views in flight find it a minute behind: the others write nothing', async () => {
    const { browser } = await signedUpBrowser(t.app);
    await browser.get('/');
    const sid = sidHashOf(browser);
    // Every row written to sessions from here on is counted by the database itself.
    await t.pool.query(`
      CREATE TABLE touch_count (n int NOT NULL);
      INSERT INTO touch_count VALUES (0);
      CREATE FUNCTION count_touch() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN UPDATE touch_count SET n = n + 1; RETURN NULL; END $$;
      CREATE TRIGGER count_touch AFTER UPDATE ON sessions FOR EACH ROW EXECUTE FUNCTION count_touch();`);
    try {
      await t.pool.query("UPDATE sessions SET expire = expire - interval '2 minutes' WHERE sid = $1", [sid]);
      await t.pool.query('UPDATE touch_count SET n = 0');
      const views = await Promise.all(Array.from({ length: 8 }, () => browser.get('/')));
      expect(views.map((view) => view.status)).toEqual(Array.from({ length: 8 }, () => 200));
      expect((await t.pool.query<{ n: number }>('SELECT n FROM touch_count')).rows[0]?.n).toBe(1);
      expect((await rowOf(browser))?.seconds_left).toBeGreaterThan(59 * 60);
    } finally {
      await t.pool.query(`
        DROP TRIGGER count_touch ON sessions;
        DROP FUNCTION count_touch();
        DROP TABLE touch_count;`);
    }
  });

  it('sends no SQL at all for an anonymous visitor viewing a form, the first time or again', async () => {
    const browser = new Browser(t.app);
    expect(await sqlDuring(t, () => browser.get('/login').expect(200))).toEqual([]);
    expect(await sqlDuring(t, () => browser.get('/login').expect(200))).toEqual([]);
    expect(await sqlDuring(t, () => browser.get('/signup').expect(200))).toEqual([]);
  });

  it('keeps the session when reading it fails once: a 503, then the next view is logged in as before', async () => {
    const { browser } = await signedUpBrowser(t.app);
    const original = t.pool.query;
    let failed = 0;
    // The database drops the connection under the session read, once (as pg_terminate_backend does).
    t.pool.query = ((...args: Parameters<typeof original>) => {
      const [query] = args as unknown[];
      const text = typeof query === 'string' ? query : String((query as { text?: unknown }).text);
      if (failed === 0 && /FROM sessions s LEFT JOIN users/.test(text)) {
        failed += 1;
        return Promise.reject(
          Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
        );
      }
      return (original as (...a: unknown[]) => unknown).apply(t.pool, args);
    }) as typeof original;
    let blip;
    try {
      blip = await browser.get('/');
    } finally {
      t.pool.query = original;
    }
    expect(failed).toBe(1);
    expect(blip.status).toBe(503);
    expect(await rowOf(browser)).toBeDefined();
    expect((await browser.get('/')).status).toBe(200);
  });

  it('tells a browser whose session is gone to drop its cookie, so it costs no lookup after that', async () => {
    const { browser } = await signedUpBrowser(t.app);
    await t.pool.query('DELETE FROM sessions WHERE sid = $1', [sidHashOf(browser)]);
    const first = await sqlDuring(t, () => browser.get('/login').expect(200));
    expect(first).toHaveLength(1); // the lookup that finds nothing
    expect(browser.sessionCookie()).toBeUndefined();
    expect(await sqlDuring(t, () => browser.get('/login').expect(200))).toEqual([]);
  });
});

describe('pruning', () => {
  it('deletes expired session rows on its timer, and keeps live ones', async () => {
    // The app prunes every 15 minutes (off in tests); the same store with a one-second timer.
    const sessions = createSessions({
      pool: t.pool,
      secrets: [TEST_SECRET],
      secure: false,
      idleSeconds: 3600,
      pruneSeconds: 1,
      maxPerUser: 100,
      maxPendingPerUser: 20,
    });
    const app = express();
    app.use(sessions.middleware);
    app.get('/', (req, res) => {
      req.session.userId = 1;
      res.send('ok');
    });
    try {
      await t.pool.query(
        "INSERT INTO sessions (sid, sess, expire) VALUES ('expired-row', '{}', now()::timestamp - interval '1 minute')",
      );
      const { browser: live } = await signedUpBrowser(t.app);
      await request(app).get('/').expect(200); // the store's first write starts its timer

      const deadline = Date.now() + 5_000;
      let left = 1;
      while (left > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        left = (await t.pool.query("SELECT 1 FROM sessions WHERE sid = 'expired-row'")).rowCount ?? 0;
      }
      expect(left).toBe(0);
      expect(await rowOf(live)).toBeDefined();
    } finally {
      await sessions.close();
    }
  });
});

describe('session cookie in production, behind a TLS proxy', () => {
  const production = () =>
    t.sibling({
      NODE_ENV: 'production',
      TRUST_PROXY: '1',
      BCRYPT_COST: '10',
      SESSION_SECRET: TEST_SECRET,
      PUBLIC_URL: 'https://accounts.example.com',
    });

  it('is __Host- prefixed, Secure, HttpOnly, SameSite=Lax and Path=/, with HSTS for a year', async () => {
    const app = (await production()).app;
    const user = signupFields();
    const form = await request(app).get('/signup').set('X-Forwarded-Proto', 'https');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(form.text)?.[1] ?? '';
    // The anonymous form's own cookie is __Host- too: the visitor value its token is an HMAC of, and nothing else.
    const formCookies = (form.headers['set-cookie'] as unknown as string[] | undefined) ?? [];
    expect(formCookies.map((line) => line.split('=')[0])).toEqual(['__Host-gatehouse.visitor']);
    expect(formCookies[0]).toMatch(/; Secure/);
    // The test client keeps Secure cookies to itself over plain http: hand them back as a browser on https would.
    const cookieHeader = formCookies.map((line) => line.split(';')[0]).join('; ');
    const response = await request(app)
      .post('/signup')
      .set('X-Forwarded-Proto', 'https')
      .set('Cookie', cookieHeader)
      .type('form')
      .send({ _csrf: csrf, ...user });
    expect(response.status).toBe(303);
    const cookie = (response.headers['set-cookie'] as unknown as string[]).find((line) => line.includes('.sid=')) ?? '';
    expect(cookie).toMatch(/^__Host-gatehouse\.sid=/);
    expect(cookie).toContain('; Secure');
    expect(cookie).toContain('; HttpOnly');
    expect(cookie).toContain('; SameSite=Lax');
    expect(cookie).toContain('; Path=/');
    expect(cookie).not.toMatch(/Domain=/i);
    expect(response.headers['strict-transport-security']).toMatch(/max-age=31536000/);
  });

  it('is never sent over plain HTTP: every cookie is Secure, so nobody can sign up or log in that way', async () => {
    const agent = request.agent((await production()).app);
    const form = await agent.get('/signup');
    expect(form.status).toBe(200);
    const cookies = (form.headers['set-cookie'] as unknown as string[] | undefined) ?? [];
    for (const cookie of cookies) expect(cookie).toMatch(/; Secure/);
    expect(cookies.some((cookie) => cookie.includes('.sid='))).toBe(false);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(form.text)?.[1] ?? '';
    const response = await agent
      .post('/signup')
      .type('form')
      .send({ _csrf: csrf, ...signupFields() });
    expect(response.status).toBe(403);
    expect(String(response.headers['set-cookie'] ?? '')).not.toMatch(/\.sid=/);
  });
});

describe('rotating the session secret', () => {
  it('keeps sessions signed with the old secret while it is listed after the new one, and only then', async () => {
    const { browser } = await signedUpBrowser(t.app);
    const cookie = browser.sessionCookie() ?? '';
    const rotated = await t.sibling({ SESSION_SECRET: `a-brand-new-secret-of-enough-length-42,${TEST_SECRET}` });
    expect((await request(rotated.app).get('/').set('Cookie', cookie)).status).toBe(200);
    const dropped = await t.sibling({ SESSION_SECRET: 'a-brand-new-secret-of-enough-length-42' });
    expect((await request(dropped.app).get('/').set('Cookie', cookie)).status).toBe(302);
  });

  it('keeps session ids at 128 bits or more of randomness', async () => {
    const { browser } = await signedUpBrowser(t.app);
    // express-session's ids are 24 random bytes, base64url: 32 characters, 192 bits.
    expect(sidOf(browser)).toMatch(/^[A-Za-z0-9_-]{32,}$/);
  });
});
