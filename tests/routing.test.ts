import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Express } from 'express';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PAGES_DIR } from '../src/app.js';
import { Browser, PASSWORD, signedUpBrowser } from './support/browser.js';
import { LOGIN_REQUIRED, expectCleanRefusal, flashesOn, isLoggedIn } from './support/pages.js';
import { type TestApp, startTestApp } from './support/test-app.js';

/**
 * Protected by default (issue 15): every route the app serves needs a login unless it is
 * declared public, and the declarations are the whole story (nothing is routed around them).
 * A page written with no thought about logins is behind one; the 405s come from the routes.
 */

const FIXTURE_PAGES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'pages');

/** The routes the behaviour contract opens to visitors, and no others. */
const PUBLIC = [
  'GET /signup',
  'POST /signup',
  'GET /login',
  'POST /login',
  'GET /logout',
  'POST /logout',
  'GET /healthz',
  'GET /password/forgot',
  'POST /password/forgot',
  'GET /password/reset',
  'POST /password/reset',
  'GET /email/verify',
  'POST /email/verify',
  'GET /email/change/cancel',
  'POST /email/change/cancel',
  'POST /email/verify/send',
  'GET /login/two-factor',
  'POST /login/two-factor',
  'GET /login/recovery-code',
  'POST /login/recovery-code',
  'POST /login/passkey/options',
  'POST /login/passkey',
  'GET /login/code',
  'POST /login/code',
  'GET /login/code/enter',
  'POST /login/code/enter',
].sort();

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({}, { pageDirectories: [PAGES_DIR, FIXTURE_PAGES] });
});
afterAll(async () => {
  await t.close();
});

/** A concrete path for a declared one (":id" filled in). */
const concrete = (declared: string) => declared.replace(/:(\w+)/g, '42');

interface Handler {
  stack?: Layer[];
  served?: () => string[];
  handlers?: Handler[];
}
interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: Handler;
}

/**
 * What the app will route (method and path), read from Express's router, the chains mounted on it
 * and the route dispatchers in those (their own table, and their router's routes): the ground truth.
 */
function expressRoutes(app: Express): string[] {
  const found: string[] = [];
  const visit = (handler: Handler | undefined) => {
    if (handler?.served) found.push(...handler.served());
    handler?.handlers?.forEach(visit);
    if (handler?.stack) walk(handler.stack);
  };
  const walk = (stack: readonly Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const [method, on] of Object.entries(layer.route.methods)) {
          if (on && method !== '_all') found.push(`${method.toUpperCase()} ${layer.route.path}`);
        }
      } else visit(layer.handle);
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return found;
}

describe('every route needs a login unless it is declared public', () => {
  it('routes nothing that was not declared: Express serves exactly the declared routes', () => {
    const declared = t.routes.map((route) => `${route.method} ${route.path}`).sort();
    expect(expressRoutes(t.app).sort()).toEqual(declared);
  });

  it('declares public exactly the routes the contract opens to visitors (and the fixture page’s one)', () => {
    const open = t.routes.filter((route) => route.isPublic).map((route) => `${route.method} ${route.path}`);
    expect(open.sort()).toEqual([...PUBLIC, 'GET /fixture/open'].sort());
  });

  it('sends a visitor on every other route to the login page, with the page as next', async () => {
    const guarded = t.routes.filter((route) => !route.isPublic);
    expect(guarded.length).toBeGreaterThan(20);
    const visitor = new Browser(t.app);
    // A token of this visitor's own (the double-submit cookie), so a POST passes the CSRF check
    // and meets the login guard rather than a 403.
    const csrf = await visitor.csrfFrom('/login');
    for (const route of guarded) {
      const url = concrete(route.path);
      const answer =
        route.method === 'GET'
          ? await visitor.get(`${url}?from=walk`)
          : await visitor.agent
              .post(url)
              .set('Referer', 'https://elsewhere.example/account')
              .type('form')
              .send({ _csrf: csrf });
      const where = `${route.method} ${url}`;
      expect(answer.status, where).toBe(302);
      // A GET comes back to itself with its query; a form post to the page it was sent from, but
      // never to another site's.
      const next = route.method === 'GET' ? `${url}?from=walk` : '/';
      expect(answer.headers['location'], where).toBe(`/login?next=${encodeURIComponent(next)}`);
    }
    // The login page then says why.
    expect(flashesOn((await visitor.get('/login')).text)).toContain(LOGIN_REQUIRED);
  });

  it('lets a logged-in user through on every one of them (no route is closed to everyone)', async () => {
    const { browser } = await signedUpBrowser(t.app);
    for (const route of t.routes.filter((r) => !r.isPublic && r.method === 'GET')) {
      const answer = await browser.get(concrete(route.path));
      expect(answer.headers['location'] ?? '', route.path).not.toMatch(/^\/login\?next=/);
    }
  });
});

describe('a page added with no auth code', () => {
  it('is behind the login, and its handlers get the user as req.user', async () => {
    const visitor = new Browser(t.app);
    const anonymous = await visitor.get('/fixture/unguarded');
    expect(anonymous.status).toBe(302);
    expect(anonymous.headers['location']).toBe('/login?next=%2Ffixture%2Funguarded');
    expect((await visitor.get('/fixture/notes/7')).headers['location']).toBe('/login?next=%2Ffixture%2Fnotes%2F7');
    // A form post from a visitor (token and all) is refused too, and sent to log in from the page it came from.
    const token = await visitor.csrfFrom('/login');
    const posted = await visitor.agent
      .post('/fixture/unguarded')
      .set('Host', 'accounts.example.test')
      .set('Referer', 'http://accounts.example.test/fixture/unguarded?tab=2')
      .type('form')
      .send({ _csrf: token });
    expect(posted.status).toBe(302);
    expect(posted.headers['location']).toBe(`/login?next=${encodeURIComponent('/fixture/unguarded?tab=2')}`);
    expect(posted.text).not.toContain('Posted by');

    const { browser, fields } = await signedUpBrowser(t.app, { name: 'Grace Hopper' });
    const page = await browser.get('/fixture/unguarded');
    expect(page.status).toBe(200);
    expect(page.text).toBe('Hello, Grace Hopper');
    expect((await browser.get('/fixture/notes/7')).text).toBe('Note 7 of Grace Hopper');
    const sent = await browser.submit('/', '/fixture/unguarded', {});
    expect(sent.text).toBe(`Posted by ${fields.email}`);
  });

  it('may declare a route public, next to it; there req.user is the user when there is one', async () => {
    expect((await new Browser(t.app).get('/fixture/open')).text).toBe('Open to anyone');
    const { browser } = await signedUpBrowser(t.app, { name: 'Ada Lovelace' });
    expect((await browser.get('/fixture/open')).text).toBe('Open, and you are Ada Lovelace');
  });

  it('a login-page redirect never follows a Referer from another site', async () => {
    const visitor = new Browser(t.app);
    const token = await visitor.csrfFrom('/login');
    const posted = await visitor.agent
      .post('/fixture/unguarded')
      .set('Referer', 'https://evil.example/phish')
      .type('form')
      .send({ _csrf: token });
    expect(posted.headers['location']).toBe('/login?next=%2F');
  });
});

/** Everything a form post could change, table by table: the rows' text, or their count where a read touches them. */
async function everythingStored(): Promise<Record<string, unknown>> {
  const state: Record<string, unknown> = {};
  for (const table of ['users', 'user_totp', 'recovery_codes', 'passkeys', 'account_tokens', 'mail_outbox']) {
    const { rows } = await t.pool.query(
      `SELECT coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '') AS text FROM ${table} t`,
    );
    state[table] = rows[0].text;
  }
  for (const table of ['sessions', 'auth_events', 'webauthn_challenges_used']) {
    state[table] = (await t.pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n;
  }
  return state;
}

describe('every form post needs its token, on every route', () => {
  it("refuses a post with no token, or another browser's, with 403 on every declared POST route, and changes nothing", async () => {
    const { browser, fields } = await signedUpBrowser(t.app);
    const visitor = new Browser(t.app);
    await visitor.csrfFrom('/login');
    const foreign = await new Browser(t.app).csrfFrom('/login');
    // What each form would take, so that a route missing the check would act on it.
    const body = { email: fields.email, password: PASSWORD, name: 'Mallory', code: '123456', recovery_code: 'x' };
    const posts = t.routes.filter((route) => route.method === 'POST');
    expect(posts.length).toBeGreaterThan(25);
    const before = await everythingStored();
    for (const route of posts) {
      for (const [who, sender] of [
        ['a logged-in user', browser],
        ['a visitor', visitor],
      ] as const) {
        for (const token of [undefined, foreign]) {
          const answer = await sender.agent
            .post(concrete(route.path))
            .type('form')
            .send(token ? { ...body, _csrf: token } : body);
          const where = `POST ${route.path} from ${who}, ${token ? "another browser's token" : 'no token'}`;
          expect(answer.status, where).toBe(403);
          expectCleanRefusal(answer, 403);
        }
      }
    }
    expect(await everythingStored()).toEqual(before);
    expect(await isLoggedIn(browser)).toBe(true);
  });
});

describe('405 with Allow, from the routes themselves', () => {
  it('answers every declared path asked with another method with 405 and the methods it does answer', async () => {
    const byPath = new Map<string, Set<string>>();
    for (const route of t.routes) {
      const methods = byPath.get(route.path) ?? new Set<string>();
      methods.add(route.method);
      if (route.method === 'GET') methods.add('HEAD');
      byPath.set(route.path, methods);
    }
    const order = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];
    for (const [declared, methods] of byPath) {
      // The admin console answers anyone but an admin with the login page or a 404, whatever the
      // method (its existence is not advertised): its 405s are admin-console.test.ts's.
      if (/^\/admin(?:\/|$)/.test(declared)) continue;
      const allow = order.filter((method) => methods.has(method)).join(', ');
      for (const method of ['PUT', 'DELETE', 'PATCH', ...(methods.has('GET') ? [] : ['GET']), 'POST']) {
        if (methods.has(method)) continue;
        const answer = await new Browser(t.app).agent[method.toLowerCase() as 'put'](concrete(declared));
        const where = `${method} ${declared}`;
        expect(answer.status, where).toBe(405);
        expect(answer.headers['allow'], where).toBe(allow);
        expectCleanRefusal(answer, 405);
      }
    }
  });

  it('includes the fixture page: a page gets its 405s without any list to edit', async () => {
    const put = await new Browser(t.app).agent.put('/fixture/unguarded');
    expect(put.status).toBe(405);
    expect(put.headers['allow']).toBe('GET, HEAD, POST');
    const del = await new Browser(t.app).agent.delete('/fixture/notes/9');
    expect(del.status).toBe(405);
    expect(del.headers['allow']).toBe('GET, HEAD');
    // An unknown path is no 405: a 404 page (or, for a method that needs a token, the CSRF refusal).
    expect((await new Browser(t.app).get('/fixture/nothing-here')).status).toBe(404);
    const unknown = await new Browser(t.app).agent.delete('/fixture/nothing-here');
    expect(unknown.headers['allow']).toBeUndefined();
    expectCleanRefusal(unknown);
  });
});

describe('pages found on disk', () => {
  // Each test its own directory, so each runs alone (-t) as well as after the other.
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'gh-pages-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('stops start-up, naming the file, when a *-page file does not export a page', async () => {
    writeFileSync(path.join(dir, 'broken-page.ts'), 'export default { hello: "not a page" };\n');
    await expect(startTestApp({}, { pageDirectories: [PAGES_DIR, dir] })).rejects.toThrow(
      /broken-page\.ts is in a pages directory but its default export is not a page/,
    );
  });

  it('stops start-up when a page declares a route another part of the site has', async () => {
    const pageModule = path.join(PAGES_DIR, '..', 'http', 'page.js').replace(/\\/g, '/');
    writeFileSync(
      path.join(dir, 'clash-page.ts'),
      `import { page } from '${pageModule}';\nexport default page((routes) => { routes.get('/account/sessions', (_req, res) => { res.send('mine'); }); });\n`,
    );
    await expect(startTestApp({}, { pageDirectories: [PAGES_DIR, dir] })).rejects.toThrow(
      /Routes declared twice: GET \/account\/sessions/,
    );
  });
});
