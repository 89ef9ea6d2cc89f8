import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import request, { type Response } from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMailer } from '../src/mail/mail-queue.js';
import { createApp } from '../src/app.js';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/http/logging.js';
import { TEST_SECRET, type TestApp, startTestApp } from './support/test-app.js';
import { Browser, PASSWORD, signedUpBrowser, signupFields } from './support/browser.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

const setUser = (email: string, column: 'website' | 'created_at' | 'last_login_at', value: string) =>
  t.pool.query(`UPDATE users SET ${column} = $2 WHERE email = $1`, [email, value]);

/** The site's own layout: the main navigation with the brand. */
const LAYOUT_NAV = /<nav\b[^>]*>[\s\S]*Gatehouse[\s\S]*<\/nav>/;

describe('the dashboard', () => {
  it('shows the name, email, website, member-since and last-login of the logged-in user', async () => {
    const website = 'https://ada.example/notes?lang=en&page=2';
    const { browser, fields } = await signedUpBrowser(t.app, { name: 'Ada Lovelace', website });
    await setUser(fields.email, 'created_at', '2001-02-03T04:05:06Z');
    await setUser(fields.email, 'last_login_at', '2002-03-04T05:06:07Z');

    const page = await browser.get('/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('Ada Lovelace');
    expect(page.text).toContain(fields.email.toLowerCase());
    expect(page.text).toContain(`<a href="https://ada.example/notes?lang=en&amp;page=2"`);
    expect(page.text).toMatch(/Member since[\s\S]*?2001[\s\S]*?Last login[\s\S]*?2002/i);
  });

  it('shows the time of the latest login, not the signup time', async () => {
    const { fields } = await signedUpBrowser(t.app);
    await setUser(fields.email, 'created_at', '2001-02-03T04:05:06Z');
    await setUser(fields.email, 'last_login_at', '2001-02-03T04:05:06Z');
    const browser = new Browser(t.app);
    expect((await browser.submit('/login', '/login', { email: fields.email, password: PASSWORD })).status).toBe(303);
    const page = await browser.get('/');
    const thisYear = String(new Date().getUTCFullYear());
    expect(page.text).toMatch(new RegExp(`Member since[\\s\\S]*?2001[\\s\\S]*?Last login[\\s\\S]*?${thisYear}`, 'i'));
  });

  it('says so when no website was given, without inventing a link', async () => {
    const { browser } = await signedUpBrowser(t.app, { website: '' });
    const page = await browser.get('/');
    expect(page.status).toBe(200);
    expect(page.text).not.toMatch(/<a\s[^>]*href="(?!#|\/(?!\/))/i);
  });
});

describe('escaping user text', () => {
  const hostileName = `<script>alert("x'&")</script>`;
  const hostileWebsite = 'https://x.example/"><script>alert(2)</script>';

  /** No raw tag from the user anywhere, and the escaped name where it is shown. */
  function expectEscaped(page: Response, expectName: boolean) {
    expect(page.text).not.toContain('<script>');
    expect(page.text).not.toContain('"><script>');
    if (expectName) expect(page.text).toContain('&lt;script&gt;alert(');
  }

  it('escapes a name and a website on every page that shows them', async () => {
    const { browser, fields } = await signedUpBrowser(t.app, { name: hostileName, website: hostileWebsite });
    const stored = await t.pool.query('SELECT name, website FROM users WHERE email = $1', [fields.email]);
    expect(stored.rows[0]).toEqual({ name: hostileName, website: hostileWebsite }); // kept as typed, escaped on output

    const welcome = await browser.get('/'); // the first visit also carries the welcome message with the name
    expect(welcome.status).toBe(200);
    expectEscaped(welcome, true);
    expect(welcome.text).toContain('href="https://x.example/&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"');

    const again = await browser.get('/');
    expectEscaped(again, true);
    expect(again.text.split('&lt;script&gt;alert(').length - 1).toBeGreaterThanOrEqual(2);

    for (const other of ['/logout', '/no-such-page']) {
      const page = await browser.get(other);
      expectEscaped(page, true);
    }
  });

  it('escapes the typed name when the signup form comes back with errors', async () => {
    const page = await new Browser(t.app).submit('/signup', '/signup', {
      ...signupFields({ name: hostileName, email: 'not-an-email', website: hostileWebsite }),
    });
    expect(page.status).toBe(422);
    expectEscaped(page, true);
    expect(page.text).toMatch(/<input id="name" name="name"[^>]*value="&lt;script&gt;alert\(&quot;x/);
  });
});

describe('websites on the dashboard', () => {
  it.each(['https://ada.example', 'http://ada.example/path', 'HTTPS://ADA.EXAMPLE/'])(
    'renders %s as a link',
    async (website) => {
      const { browser, fields } = await signedUpBrowser(t.app);
      await setUser(fields.email, 'website', website);
      const page = await browser.get('/');
      expect(page.text).toContain(`<a href="${website}"`);
    },
  );

  it.each([
    'javascript:alert(1)',
    'JavaScript:alert(1)',
    ' javascript:alert(1)',
    'data:text/html,hello',
    'vbscript:msgbox(1)',
    '//evil.example/',
    'ftp://files.example/',
    'https:evil.example',
  ])('shows %j as text, never as a link', async (website) => {
    const { browser, fields } = await signedUpBrowser(t.app);
    await setUser(fields.email, 'website', website);
    const page = await browser.get('/');
    expect(page.status).toBe(200);
    expect(page.text).not.toMatch(/href="\s*(?:javascript|data|vbscript|ftp|https:evil|\/\/evil)/i);
    expect(page.text).not.toMatch(/<a\s[^>]*href="(?!#|\/(?!\/))/i);
    expect(page.text).toContain(website);
  });
});

describe('pages for anonymous visitors', () => {
  it.each([
    ['/', '/'],
    ['/?x=1', '/?x=1'],
    ['/?a=1&b=%2Fc&d=%C3%A9', '/?a=1&b=%2Fc&d=%C3%A9'],
  ])('sends GET %s to the login page with that path as next', async (requested, next) => {
    const response = await new Browser(t.app).get(requested);
    expect([302, 303]).toContain(response.status);
    expect(response.headers['location']).toBe(`/login?next=${encodeURIComponent(next)}`);
  });

  it('explains on the login page why the visitor was sent there, and returns them after login', async () => {
    const { fields } = await signedUpBrowser(t.app);
    const browser = new Browser(t.app);
    const redirect = await browser.get('/?x=1');
    const login = await browser.get(String(redirect.headers['location']));
    expect(login.status).toBe(200);
    expect(login.text).toContain('You must be logged in to view that page.');
    expect(login.text).toMatch(/<input type="hidden" name="next" value="\/\?x=1">/);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(login.text)?.[1] ?? '';
    const response = await browser.agent
      .post('/login')
      .type('form')
      .send({ _csrf: csrf, email: fields.email, password: PASSWORD, next: '/?x=1' });
    expect(response.status).toBe(303);
    expect(response.headers['location']).toBe('/?x=1');
  });

  it('answers an unknown path with a 404 page in the site layout', async () => {
    const response = await new Browser(t.app).get('/no/such/page?x=1');
    expect(response.status).toBe(404);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    expect(response.text).toMatch(LAYOUT_NAV);
    expect(response.text).toMatch(/<h1>[^<]+<\/h1>/);
    expect(response.text).toContain('/static/styles.css');
  });

  it('answers a missing static file with the same 404 page', async () => {
    const response = await new Browser(t.app).get('/static/no-such-file.css');
    expect(response.status).toBe(404);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    expect(response.text).toMatch(LAYOUT_NAV);
  });

  it('shows a logged-in visitor their own navigation on the 404 page', async () => {
    const { browser } = await signedUpBrowser(t.app, { name: 'Grace Hopper' });
    const response = await browser.get('/nowhere');
    expect(response.status).toBe(404);
    expect(response.text).toMatch(LAYOUT_NAV);
    expect(response.text).toContain('Grace Hopper');
  });
});

describe('health check', () => {
  it('answers 200 {"status":"ok"} as JSON and sets no cookie', async () => {
    const response = await request(t.app).get('/healthz');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.body).toEqual({ status: 'ok' });
    expect(response.headers['set-cookie']).toBeUndefined();
  });

  /** The app as production builds it, over a pool the test controls. */
  async function appOver(pool: pg.Pool) {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'gh-health-'));
    const config = parseConfig({
      NODE_ENV: 'test',
      BCRYPT_COST: '4',
      DATA_DIR: dataDir,
      SESSION_SECRET: TEST_SECRET,
      LOG_LEVEL: 'silent',
    });
    const logger = createLogger('silent');
    const made = await createApp({
      config,
      db: { pool },
      logger,
      sessionSecrets: config.sessionSecrets,
      mailer: createMailer({ config, pool, logger, secrets: config.sessionSecrets }),
    });
    return {
      app: made.app,
      async close() {
        await made.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }

  it('answers 503 when nothing listens where the database should be', async () => {
    const pool = new pg.Pool({
      host: '127.0.0.1',
      port: 1,
      user: 'postgres',
      database: 'gone',
      connectionTimeoutMillis: 1000,
    });
    pool.on('error', () => {});
    const dead = await appOver(pool);
    try {
      const response = await request(dead.app).get('/healthz');
      expect(response.status).toBe(503);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(response.body).not.toEqual({ status: 'ok' });
      expect(response.text).not.toMatch(/ECONNREFUSED|\bat .*:\d+:\d+|Error:/);

      // A logged-in visitor's session cannot be read: a 503 page, not a 500 or a crash.
      const { browser } = await signedUpBrowser(t.app);
      for (const route of ['/', '/logout']) {
        const page = await request(dead.app)
          .get(route)
          .set('Cookie', browser.sessionCookie() ?? '');
        expect(page.status).toBe(503);
        expect(page.headers['content-type']).toMatch(/^text\/html/);
        expect(page.text).toContain('temporarily unavailable');
        expect(page.text).not.toMatch(/ECONNREFUSED|\bat .*:\d+:\d+|Error:/);
      }
    } finally {
      await dead.close();
      await pool.end();
    }
  });

  it('answers 200 while its pool is open and 503 once the pool has been ended', async () => {
    const pool = new pg.Pool({ ...t.pool.options, max: 1 });
    pool.on('error', () => {});
    const app = await appOver(pool);
    try {
      expect((await request(app.app).get('/healthz')).status).toBe(200);
      await pool.end();
      const response = await request(app.app).get('/healthz');
      expect(response.status).toBe(503);
      expect(response.body).not.toEqual({ status: 'ok' });
    } finally {
      await app.close();
    }
  });
});

describe('static files', () => {
  it.each([
    ['/static/styles.css', /^text\/css/],
    ['/static/logo.svg', /^image\/svg\+xml/],
    ['/static/favicon.svg', /^image\/svg\+xml/],
  ])('serves %s as %s that browsers may cache', async (path, contentType) => {
    const response = await request(t.app).get(path);
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(contentType);
    const cacheControl = String(response.headers['cache-control'] ?? '');
    expect(cacheControl).not.toMatch(/no-store|no-cache|private/);
    const maxAge = Number(/max-age=(\d+)/.exec(cacheControl)?.[1] ?? 0);
    expect(maxAge).toBeGreaterThan(0);
    expect(response.headers['set-cookie']).toBeUndefined();
  });
});

describe('security headers', () => {
  const directives = (response: Response) =>
    new Map(
      String(response.headers['content-security-policy'] ?? '')
        .split(';')
        .map((part) => part.trim())
        .filter((part) => part !== '')
        .map((part): [string, string[]] => {
          const [name = '', ...values] = part.split(/\s+/);
          return [name.toLowerCase(), values];
        }),
    );

  function expectSecurityHeaders(response: Response) {
    const csp = directives(response);
    expect(csp.get('default-src')).toEqual(["'self'"]);
    expect(csp.get('object-src')).toEqual(["'none'"]);
    expect(csp.get('base-uri')).toEqual(["'none'"]);
    expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
    expect(csp.get('form-action')).toEqual(["'self'"]);
    for (const source of [csp.get('script-src') ?? [], csp.get('default-src') ?? []]) {
      expect(source).not.toContain("'unsafe-inline'");
      expect(source).not.toContain("'unsafe-eval'");
      expect(source).not.toContain('*');
    }
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['referrer-policy']).toBe('same-origin');
    expect(response.headers['x-powered-by']).toBeUndefined();
  }

  const noStore = (response: Response) => String(response.headers['cache-control'] ?? '').split(/,\s*/);

  it.each(['/login', '/signup', '/logout'])('sends them, with Cache-Control no-store, on %s', async (pagePath) => {
    const response = await new Browser(t.app).get(pagePath);
    expect(response.status).toBe(200);
    expectSecurityHeaders(response);
    expect(noStore(response)).toContain('no-store');
  });

  it('sends them, with Cache-Control no-store, on the dashboard', async () => {
    const { browser } = await signedUpBrowser(t.app);
    const response = await browser.get('/');
    expect(response.status).toBe(200);
    expectSecurityHeaders(response);
    expect(noStore(response)).toContain('no-store');
  });

  it('sends them on the 404 page, on refusals and on the login redirect', async () => {
    const browser = new Browser(t.app);
    const notFound = await browser.get('/missing');
    expect(notFound.status).toBe(404);
    expectSecurityHeaders(notFound);
    const refused = await browser.agent.post('/login').type('form').send({ email: 'a@example.com', password: 'x' });
    expect(refused.status).toBe(403);
    expectSecurityHeaders(refused);
    const redirect = await browser.get('/');
    expect([302, 303]).toContain(redirect.status);
    expect(redirect.headers['x-powered-by']).toBeUndefined();
    expect(noStore(redirect)).toContain('no-store');
  });

  it('sends no X-Powered-By on static files or the health check', async () => {
    for (const target of ['/static/styles.css', '/healthz']) {
      const response = await request(t.app).get(target);
      expect(response.headers['x-powered-by'], target).toBeUndefined();
      expect(response.headers['x-content-type-options'], target).toBe('nosniff');
    }
  });
});
