import type { IncomingMessage, ServerResponse } from 'node:http';
import request, { type Response } from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appServer } from '../src/http/app-server.js';
import { Browser, PASSWORD, signUpIn, signedUpBrowser } from './support/browser.js';
import { isLoggedIn } from './support/pages.js';
import { sessionCount } from './support/users.js';
import { type TestApp, sqlDuring, startTestApp } from './support/test-app.js';

/**
 * Issue 22 made the page views cheaper: express-session's middleware runs only for a form post (a
 * logged-in page view reads its session through its store, and a visitor's makes none), a
 * visitor's token is handed back while it is good instead of minted per view,
 * the request line is written without pino-http, and helmet's headers are learnt once. What a
 * browser sees must not change: these are the behaviours those changes could have broken.
 */

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

const VISITOR = 'gatehouse.visitor';

const cookieNamesSet = (response: Response): string[] =>
  ((response.headers['set-cookie'] as unknown as string[] | undefined) ?? []).map((line) => line.split('=')[0] ?? '');
const tokenOn = (response: Response): string | undefined => /name="_csrf" value="([^"]+)"/.exec(response.text)?.[1];

describe("a returning visitor's token", () => {
  it('is handed back, not minted again, and no cookie is set again; the form still works, and only the login makes a row', async () => {
    const { fields } = await signedUpBrowser(t.app);
    const browser = new Browser(t.app);
    const before = await sessionCount(t);
    const first = await browser.get('/login');
    expect(cookieNamesSet(first)).toEqual([VISITOR]);
    const token = tokenOn(first);
    expect(token).toBeDefined();

    for (const page of ['/login', '/signup', '/password/forgot', '/login']) {
      const again = await browser.get(page);
      expect(again.status).toBe(200);
      expect(tokenOn(again)).toBe(token);
      expect(cookieNamesSet(again)).toEqual([]);
    }
    expect(await sessionCount(t)).toBe(before);
    expect(browser.sessionCookie()).toBeUndefined();

    const login = await browser.agent
      .post('/login')
      .type('form')
      .send({ _csrf: token, email: fields.email, password: PASSWORD });
    expect(login.status).toBe(303);
    expect(await isLoggedIn(browser)).toBe(true);
    expect(await sessionCount(t)).toBe(before + 1);
  });

  it('stays bound to its visitor: with another visitor cookie it is refused', async () => {
    const { fields } = await signedUpBrowser(t.app);
    const owner = new Browser(t.app);
    await owner.get('/login');
    const token = tokenOn(await owner.get('/login')); // the handed-back one
    const other = new Browser(t.app);
    await other.get('/login');
    const refused = await other.agent
      .post('/login')
      .type('form')
      .send({ _csrf: token, email: fields.email, password: PASSWORD });
    expect(refused.status).toBe(403);
    expect(await isLoggedIn(other)).toBe(false);
  });

  it('is made afresh, with a new visitor value, when the visitor cookie is not good (its expiry changed)', async () => {
    const browser = new Browser(t.app);
    const first = await browser.get('/login');
    const token = tokenOn(first) ?? '';
    const visitor = /gatehouse\.visitor=([^;]+)/.exec(String(first.headers['set-cookie']))?.[1] ?? '';
    const [random, expiry] = visitor.split('.');
    const again = await request(t.app)
      .get('/login')
      .set('Cookie', `${VISITOR}=${random}.${Number(expiry) + 10 * 24 * 3600}`);
    expect(cookieNamesSet(again)).toEqual([VISITOR]);
    expect(tokenOn(again)).not.toBe(token);
  });
});

describe('a visitor page view runs no session code', () => {
  it('GET and HEAD without the session cookie: no session cookie, no SQL, whatever the page', async () => {
    for (const path of ['/login', '/signup', '/', '/no/such/page']) {
      const sent = await sqlDuring(t, async () => {
        const get = await request(t.app).get(path);
        expect(cookieNamesSet(get)).not.toContain('gatehouse.sid');
        const head = await request(t.app).head(path);
        expect(cookieNamesSet(head)).not.toContain('gatehouse.sid');
      });
      expect(sent).toEqual([]);
    }
  });

  it('a stale session cookie (its signature does not verify) is told to go', async () => {
    const stale = await request(t.app).get('/login').set('Cookie', 'gatehouse.sid=s%3Anot-a-session.bad');
    expect(stale.status).toBe(200);
    expect(String(stale.headers['set-cookie'])).toMatch(/gatehouse\.sid=;/);
  });
});

describe('revocation stays instant: nothing caches a session between views', () => {
  it('a session ended from another browser is logged out at its very next view', async () => {
    const { browser: first, fields } = await signedUpBrowser(t.app);
    expect(await isLoggedIn(first)).toBe(true);
    const second = new Browser(t.app);
    expect((await second.submit('/login', '/login', { email: fields.email, password: PASSWORD })).status).toBe(303);
    const ended = await second.submit('/account/sessions', '/account/sessions/end-others', {});
    expect(ended.status).toBe(303);
    expect(await isLoggedIn(first)).toBe(false);
    expect(await isLoggedIn(second)).toBe(true);
  });

  it('a session row deleted in the database, or its user deactivated, counts at the next view', async () => {
    const { browser } = await signedUpBrowser(t.app);
    expect(await isLoggedIn(browser)).toBe(true);
    expect(await isLoggedIn(browser)).toBe(true);
    const cookie = browser.sessionCookie() ?? '';
    const sid = decodeURIComponent(cookie.split('=')[1] ?? '')
      .replace(/^s:/, '')
      .replace(/\..*$/, '');
    await t.pool.query('DELETE FROM sessions WHERE sid = encode(sha256(convert_to($1, $2)), $3)', [sid, 'UTF8', 'hex']);
    expect(await isLoggedIn(browser)).toBe(false);

    const { browser: other, fields } = await signedUpBrowser(t.app);
    expect(await isLoggedIn(other)).toBe(true);
    await t.pool.query('UPDATE users SET is_active = false WHERE lower(email) = lower($1)', [fields.email]);
    expect(await isLoggedIn(other)).toBe(false);
  });
});

describe('a page view reads its session as express-session would (session.ts, pageViews)', () => {
  const sidOf = (browser: Browser): string =>
    decodeURIComponent((browser.sessionCookie() ?? '').split('=')[1] ?? '')
      .replace(/^s:/, '')
      .replace(/\..*$/, '');
  const rowOf = (browser: Browser) => ({
    where: 'sid = encode(sha256(convert_to($1, $2)), $3)',
    values: [sidOf(browser), 'UTF8', 'hex'],
  });

  it('keeps what a page view changed without saving it: a token minted for a session without one still works', async () => {
    const { browser } = await signedUpBrowser(t.app);
    // A session saved before its forms' token was bound to it (an older row): the next page with
    // a form mints one into the session, and nothing on that page saves the session itself.
    const row = rowOf(browser);
    await t.pool.query(`UPDATE sessions SET sess = (sess::jsonb - 'csrfToken')::json WHERE ${row.where}`, row.values);
    const { rows } = await t.pool.query<{ token: string | null }>(
      `SELECT sess->>'csrfToken' AS token FROM sessions WHERE ${row.where}`,
      row.values,
    );
    expect(rows[0]?.token).toBeNull();
    const ended = await browser.submit('/account/sessions', '/account/sessions/end-others', {});
    expect(ended.status).toBe(303);
    const after = await t.pool.query<{ token: string | null }>(
      `SELECT sess->>'csrfToken' AS token FROM sessions WHERE ${row.where}`,
      row.values,
    );
    expect(after.rows[0]?.token).toEqual(expect.any(String));
  });

  it('a remembered session a page view changed gets its cookie again, as express-session sends it', async () => {
    const { fields } = await signedUpBrowser(t.app);
    const browser = new Browser(t.app);
    const login = await browser.submit('/login', '/login', { email: fields.email, password: PASSWORD, remember: '1' });
    expect(login.status).toBe(303);
    const row = rowOf(browser);
    await t.pool.query(`UPDATE sessions SET sess = (sess::jsonb - 'csrfToken')::json WHERE ${row.where}`, row.values);
    const page = await browser.get('/account/sessions');
    expect(page.status).toBe(200);
    const sent = ((page.headers['set-cookie'] as unknown as string[] | undefined) ?? []).find((line) =>
      line.startsWith('gatehouse.sid='),
    );
    expect(sent).toMatch(/; Expires=/);
    expect(decodeURIComponent(sent?.split(';')[0]?.split('=')[1] ?? '')).toMatch(new RegExp(`^s:${sidOf(browser)}\\.`));
    expect(await isLoggedIn(browser)).toBe(true);
  });

  it('an unchanged session costs one statement and sends no cookie, "remember me" or not', async () => {
    const { fields } = await signedUpBrowser(t.app);
    const variants: Record<string, string>[] = [{}, { remember: '1' }];
    for (const remember of variants) {
      const browser = new Browser(t.app);
      const login = await browser.submit('/login', '/login', { email: fields.email, password: PASSWORD, ...remember });
      expect(login.status).toBe(303);
      let response: Response | undefined;
      const sql = await sqlDuring(t, async () => {
        response = await browser.get('/account');
      });
      expect(response?.status).toBe(200);
      expect(cookieNamesSet(response as Response)).toEqual([]);
      expect(sql).toHaveLength(1);
    }
  });

  it('a cookie with a forged signature reads nothing: the page is a visitor’s, and the cookie is told to go', async () => {
    const { browser } = await signedUpBrowser(t.app);
    const forged = `gatehouse.sid=${encodeURIComponent(`s:${sidOf(browser)}.${'A'.repeat(43)}`)}`;
    let response: Response | undefined;
    const sql = await sqlDuring(t, async () => {
      response = await request(t.app).get('/account').set('Cookie', forged);
    });
    expect(sql).toEqual([]);
    expect(response?.status).toBe(302);
    expect(response?.headers['location']).toMatch(/^\/login\?next=/);
    expect(String(response?.headers['set-cookie'])).toMatch(/gatehouse\.sid=;/);
    expect(await isLoggedIn(browser)).toBe(true);
  });

  it('HEAD reads the session as GET does', async () => {
    const { browser } = await signedUpBrowser(t.app);
    const cookie = browser.sessionCookie() ?? '';
    expect((await request(t.app).head('/account').set('Cookie', cookie)).status).toBe(200);
    expect((await request(t.app).head('/account')).status).toBe(302);
  });
});

describe('every response still carries the same headers', () => {
  it("helmet's, the request id and no-store, for a visitor and for a logged-in user alike", async () => {
    const { browser } = await signedUpBrowser(t.app);
    for (const response of [await request(t.app).get('/login'), await browser.get('/')]) {
      expect(response.status).toBe(200);
      expect(response.headers).toMatchObject({
        'content-security-policy':
          "default-src 'self';script-src 'self';style-src 'self';img-src 'self' data:;object-src 'none';base-uri 'none';frame-ancestors 'none';form-action 'self'",
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-resource-policy': 'same-origin',
        'origin-agent-cluster': '?1',
        'referrer-policy': 'same-origin',
        'x-content-type-options': 'nosniff',
        'x-dns-prefetch-control': 'off',
        'x-download-options': 'noopen',
        'x-frame-options': 'DENY',
        'x-permitted-cross-domain-policies': 'none',
        'x-xss-protection': '0',
        'cache-control': 'no-store',
      });
      expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(response.headers['x-powered-by']).toBeUndefined();
      expect(response.headers['strict-transport-security']).toBeUndefined(); // production only
    }
  });
});

describe('the request line', () => {
  it("is pino-http's: the request (id, method, path without its query), the status, the time, 'request completed'", async () => {
    const logged = await t.sibling();
    const response = await request(logged.app).get('/login?next=%2Faccount%3Fsecret%3D1');
    const id = String(response.headers['x-request-id']);
    let line: Record<string, unknown> | undefined;
    for (let tries = 0; tries < 50 && !line; tries++) {
      line = logged.logs
        .flatMap((text) => text.split('\n'))
        .filter((text) => text.trim() !== '')
        .map((text) => JSON.parse(text) as Record<string, unknown>)
        .find((entry) => (entry['req'] as { id?: string } | undefined)?.id === id);
      if (!line) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(line).toMatchObject({
      level: 30,
      req: { id, method: 'GET', path: '/login' },
      res: { statusCode: 200 },
      msg: 'request completed',
    });
    expect(typeof line?.['responseTime']).toBe('number');
    expect(JSON.stringify(line)).not.toContain('secret');
  });
});

describe('the server npm start makes (appServer)', () => {
  it("gives every request and response the app's prototypes from birth, and a whole visit works over it", async () => {
    const server = appServer(t.app);
    const born: boolean[] = [];
    // Before Express takes the request: what Node made it.
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      born.push(Object.getPrototypeOf(req) === t.app.request && Object.getPrototypeOf(res) === t.app.response);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { browser, fields } = await signUpIn(new Browser(server));
      const dashboard = await browser.get('/');
      expect(dashboard.status).toBe(200);
      expect(dashboard.text).toContain(`Hello, ${fields.name}`);
      expect((await browser.submit('/', '/logout', {})).status).toBe(303);
      expect(await isLoggedIn(browser)).toBe(false);
      const login = await browser.submit('/login', '/login', { email: fields.email, password: PASSWORD });
      expect(login.status).toBe(303);
      expect(await isLoggedIn(browser)).toBe(true);
      expect((await browser.get('/no/such/page')).status).toBe(404);
      expect(born.length).toBeGreaterThanOrEqual(10);
      expect(born.every(Boolean)).toBe(true);
      // The same app served by a plain server (as supertest serves it) still has its prototypes set by Express.
      expect((await request(t.app).get('/login')).status).toBe(200);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("a logged-in view's one statement", () => {
  const preparedNames = async (): Promise<string[]> => {
    // Every idle connection of the pool (the view's among them), each asked what it has prepared.
    const clients = await Promise.all(Array.from({ length: t.pool.idleCount }, () => t.pool.connect()));
    try {
      const names = await Promise.all(
        clients.map(
          async (client) => (await client.query<{ name: string }>('SELECT name FROM pg_prepared_statements')).rows,
        ),
      );
      return [...new Set(names.flat().map((row) => row.name))];
    } finally {
      for (const client of clients) client.release();
    }
  };

  it('is prepared once per connection on Postgres (never on the embedded one), and views go on as connections are replaced', async () => {
    const { browser, fields } = await signedUpBrowser(t.app);
    expect((await browser.get('/')).status).toBe(200);
    expect(await preparedNames()).toEqual(process.env['TEST_DATABASE_URL'] ? ['sessions.load'] : []);
    for (let round = 0; round < 3; round++) {
      // Every connection ends; the next views run on new ones (on the embedded database, the same
      // backend, which keeps whatever a connection prepared).
      const clients = await Promise.all(Array.from({ length: t.pool.totalCount }, () => t.pool.connect()));
      for (const client of clients) client.release(true);
      for (let view = 0; view < 3; view++) {
        const dashboard = await browser.get('/');
        expect(dashboard.status).toBe(200);
        expect(dashboard.text).toContain(`Hello, ${fields.name}`);
      }
    }
  });
});
