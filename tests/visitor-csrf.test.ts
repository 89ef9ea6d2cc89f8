import request, { type Response } from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Browser, PASSWORD, signedUpBrowser } from './support/browser.js';
import { expectCleanRefusal, isLoggedIn } from './support/pages.js';
import { sessionCount, setCookieLine } from './support/users.js';
import { TEST_SECRET, type TestApp, sqlDuring, startTestApp } from './support/test-app.js';

/**
 * Issue 19, finding 6: a sibling subdomain could log a visitor into the
 * attacker's account (login CSRF), because a visitor's token was bound to
 * nothing and `Sec-Fetch-Site: same-site` was let through. A visitor's token is
 * now bound to a random per-visitor value with an expiry, held in a cookie of
 * its own, and a form post must come from this very origin.
 */

const VISITOR = 'gatehouse.visitor';
const PUBLIC_URL = 'https://accounts.example.test';
const HOUR = 60 * 60 * 1000;
/** The visitor value on the wire: 16+ random bytes in base64url, a dot, its expiry in Unix seconds. */
const VISITOR_VALUE = /^([A-Za-z0-9_-]{22,})\.(\d+)$/;
const CROSS_SITE = 'This form was sent from another site, so it was refused.';

let t: TestApp;
/** An account the logins below log in to. */
let email: string;
beforeAll(async () => {
  t = await startTestApp();
  email = (await signedUpBrowser(t.app)).fields.email;
});
afterAll(async () => {
  await t.close();
});
afterEach(() => {
  vi.useRealTimers();
});

/** Every cookie a response sets, name → value. */
function cookiesSet(response: Response): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const line of (response.headers['set-cookie'] as unknown as string[] | undefined) ?? []) {
    const pair = line.split(';')[0] ?? '';
    const equals = pair.indexOf('=');
    if (equals > 0) cookies.set(pair.slice(0, equals), pair.slice(equals + 1));
  }
  return cookies;
}

const cookieHeader = (cookies: Record<string, string | undefined>): string =>
  Object.entries(cookies)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `${name}=${value}`)
    .join('; ');

/** A visitor's login form as the browser holds it: the token in the page and the visitor cookie that came with it. */
interface HeldForm {
  readonly token: string;
  readonly visitor: string;
}

/** A new visitor (no cookies, or the ones given) loads the login form. */
async function loginForm(cookie?: string): Promise<HeldForm & { response: Response }> {
  const page = request(t.app).get('/login');
  if (cookie !== undefined) page.set('Cookie', cookie);
  const response = await page;
  expect(response.status).toBe(200);
  const cookies = cookiesSet(response);
  const token = /name="_csrf" value="([^"]+)"/.exec(response.text)?.[1];
  if (!token) throw new Error('no _csrf token on /login');
  return { token, visitor: cookies.get(VISITOR) ?? '', response };
}

/** Posts the login form with exactly these cookies and headers, as a browser would send them. */
const postLogin = (token: string, cookies: Record<string, string | undefined>, headers: Record<string, string> = {}) =>
  request(t.app)
    .post('/login')
    .set('Cookie', cookieHeader(cookies))
    .set(headers)
    .type('form')
    .send({ _csrf: token, email, password: PASSWORD });

const lastLogin = async (): Promise<string> => {
  const { rows } = await t.pool.query<{ at: Date }>('SELECT last_login_at AS at FROM users WHERE email = $1', [email]);
  return rows[0]?.at.toISOString() ?? 'never';
};

/** A refused form post: a 403 page, no session cookie, no new session row, no login recorded. */
async function expectNobodyLoggedIn(post: () => Promise<Response>): Promise<Response> {
  const rows = await sessionCount(t);
  const loggedInAt = await lastLogin();
  const response = await post();
  expectCleanRefusal(response, 403);
  expect(String(response.headers['set-cookie'] ?? '')).not.toMatch(/gatehouse\.sid=/);
  expect(await sessionCount(t)).toBe(rows);
  expect(await lastLogin()).toBe(loggedInAt);
  return response;
}

/** An accepted login: the redirect and a session cookie. */
function expectLoggedIn(response: Response): void {
  expect(response.status).toBe(303);
  expect(String(response.headers['set-cookie'] ?? '')).toMatch(/gatehouse\.sid=/);
}

describe('where the browser says a login form came from', () => {
  it.each(['same-site', 'Same-Site', ' SAME-SITE ', 'a-value-from-the-future'])(
    'refuses a login sent with Sec-Fetch-Site: %j and a valid token with 403, and logs nobody in',
    async (site) => {
      const browser = new Browser(t.app);
      const csrf = await browser.csrfFrom('/login');
      const refused = await expectNobodyLoggedIn(() =>
        browser.agent
          .post('/login')
          .set('Sec-Fetch-Site', site)
          .type('form')
          .send({ _csrf: csrf, email, password: PASSWORD }),
      );
      expect(refused.text).toContain(CROSS_SITE);
      expect(await isLoggedIn(browser)).toBe(false);
    },
  );

  it.each(['same-origin', 'none', ' Same-Origin ', 'NONE'])(
    'accepts a login sent with Sec-Fetch-Site: %j and a valid token',
    async (site) => {
      const browser = new Browser(t.app);
      const csrf = await browser.csrfFrom('/login');
      const response = await browser.agent
        .post('/login')
        .set('Sec-Fetch-Site', site)
        .type('form')
        .send({ _csrf: csrf, email, password: PASSWORD });
      expect(response.status).toBe(303);
      expect(await isLoggedIn(browser)).toBe(true);
    },
  );

  describe('with PUBLIC_URL set', () => {
    let site: TestApp;
    beforeAll(async () => {
      site = await t.sibling({ PUBLIC_URL });
    });

    const postFrom = async (origin: string, secFetchSite?: string) => {
      const browser = new Browser(site.app);
      const csrf = await browser.csrfFrom('/login');
      const post = browser.agent.post('/login').set('Origin', origin);
      if (secFetchSite !== undefined) post.set('Sec-Fetch-Site', secFetchSite);
      return { browser, answer: () => post.type('form').send({ _csrf: csrf, email, password: PASSWORD }) };
    };

    it.each([
      ['a sibling subdomain', 'https://evil.accounts.example.test'],
      ['another site', 'https://evil.example'],
      ['the same host over http', 'http://accounts.example.test'],
      ['the same host on another port', 'https://accounts.example.test:8443'],
    ])("refuses a login whose Origin is %s's even when Sec-Fetch-Site says same-origin", async (_label, origin) => {
      const { browser, answer } = await postFrom(origin, 'same-origin');
      const refused = await expectNobodyLoggedIn(answer);
      expect(refused.text).toContain(CROSS_SITE);
      expect(await isLoggedIn(browser)).toBe(false);
    });

    it('refuses an opaque Origin (null) unless the browser says the post is same-origin', async () => {
      for (const secFetchSite of [undefined, 'same-site', 'cross-site']) {
        const { browser, answer } = await postFrom('null', secFetchSite);
        expect((await expectNobodyLoggedIn(answer)).text).toContain(CROSS_SITE);
        expect(await isLoggedIn(browser)).toBe(false);
      }
    });

    it('accepts Origin: null with Sec-Fetch-Site: same-origin: a form on a no-referrer page of this site (a mailed link)', async () => {
      const { browser, answer } = await postFrom('null', 'same-origin');
      expect((await answer()).status).toBe(303);
      expect(await isLoggedIn(browser)).toBe(true);
    });

    it("refuses a login whose Origin is a sibling subdomain's when no Sec-Fetch-Site is sent", async () => {
      const { answer } = await postFrom('https://evil.accounts.example.test');
      expect((await expectNobodyLoggedIn(answer)).text).toContain(CROSS_SITE);
    });

    it("accepts a login whose Origin is PUBLIC_URL's, with Sec-Fetch-Site: same-origin or without it", async () => {
      for (const secFetchSite of ['same-origin', undefined]) {
        const { browser, answer } = await postFrom(PUBLIC_URL, secFetchSite);
        expect((await answer()).status).toBe(303);
        expect(await isLoggedIn(browser)).toBe(true);
      }
    });
  });

  it("refuses a login whose Origin is not the request's own when PUBLIC_URL is unset, whatever Sec-Fetch-Site says", async () => {
    const browser = new Browser(t.app);
    const csrf = await browser.csrfFrom('/login');
    await expectNobodyLoggedIn(() =>
      browser.agent
        .post('/login')
        .set('Host', 'gatehouse.test')
        .set('Origin', 'http://evil.gatehouse.test')
        .set('Sec-Fetch-Site', 'same-origin')
        .type('form')
        .send({ _csrf: csrf, email, password: PASSWORD }),
    );
  });
});

describe("a visitor's token is bound to that visitor", () => {
  it('gives each visitor a random value of its own in an HttpOnly, SameSite=Lax cookie for the whole site', async () => {
    const first = await loginForm();
    const second = await loginForm();
    for (const form of [first, second]) {
      const line = setCookieLine(form.response, VISITOR) ?? '';
      expect(line).toContain('; HttpOnly');
      expect(line).toContain('; SameSite=Lax');
      expect(line).toContain('; Path=/');
      expect(line).not.toMatch(/Domain=/i);
      const random = VISITOR_VALUE.exec(form.visitor)?.[1] ?? '';
      expect(Buffer.from(random, 'base64url').length).toBeGreaterThanOrEqual(16);
    }
    expect(first.visitor).not.toBe(second.visitor);
  });

  it('in production, names the visitor cookie __Host- and marks it Secure', async () => {
    const production = await t.sibling({
      NODE_ENV: 'production',
      TRUST_PROXY: '1',
      BCRYPT_COST: '10',
      SESSION_SECRET: TEST_SECRET,
      PUBLIC_URL,
    });
    const page = await request(production.app).get('/login').set('X-Forwarded-Proto', 'https');
    const line = setCookieLine(page, `__Host-${VISITOR}`) ?? '';
    expect(line).toMatch(/^__Host-gatehouse\.visitor=[A-Za-z0-9_-]{22,}\.\d+;/);
    expect(line).toContain('; Secure');
    expect(line).toContain('; HttpOnly');
  });

  it('hands out no visitor value where no form is shown (a redirect to the login page)', async () => {
    const redirect = await request(t.app).get('/');
    expect(redirect.status).toBe(302);
    expect(cookiesSet(redirect).has(VISITOR)).toBe(false);
  });

  it('keeps one visitor value across pages rather than minting one per page', async () => {
    const browser = new Browser(t.app);
    const held = () =>
      browser.agent.jar.getCookie(VISITOR, { domain: '127.0.0.1', path: '/', secure: false, script: false })?.value;
    await browser.csrfFrom('/login');
    const first = held();
    expect(first).toMatch(VISITOR_VALUE);
    await browser.csrfFrom('/signup');
    await browser.csrfFrom('/password/forgot');
    expect(held()).toBe(first);
  });

  it('accepts the token with the visitor cookie it was issued under', async () => {
    const form = await loginForm();
    expectLoggedIn(await postLogin(form.token, { [VISITOR]: form.visitor }));
  });

  it("refuses a visitor's token replayed with another visitor's visitor cookie", async () => {
    const attacker = await loginForm();
    const victim = await loginForm();
    expect(victim.visitor).not.toBe(attacker.visitor);
    await expectNobodyLoggedIn(() => postLogin(attacker.token, { [VISITOR]: victim.visitor }));
  });

  it('refuses a made-up token of the right shape, and the right token with a character changed or added', async () => {
    const form = await loginForm();
    expect(form.token).toMatch(/^[A-Za-z0-9_-]{22}$/);
    await expectNobodyLoggedIn(() => postLogin('A'.repeat(22), { [VISITOR]: form.visitor }));
    const changed = `${form.token.slice(0, 10)}${form.token[10] === 'B' ? 'C' : 'B'}${form.token.slice(11)}`;
    await expectNobodyLoggedIn(() => postLogin(changed, { [VISITOR]: form.visitor }));
    await expectNobodyLoggedIn(() => postLogin('', { [VISITOR]: form.visitor }));
    // The same 16 bytes written otherwise: a stray character, or the last character's spare bits changed.
    await expectNobodyLoggedIn(() => postLogin(`${form.token}=`, { [VISITOR]: form.visitor }));
    await expectNobodyLoggedIn(() => postLogin(`!${form.token}`, { [VISITOR]: form.visitor }));
    const last = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.indexOf(form.token.slice(-1));
    const spare = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[last ^ 0b11] ?? '';
    await expectNobodyLoggedIn(() => postLogin(`${form.token.slice(0, -1)}${spare}`, { [VISITOR]: form.visitor }));
  });

  it('follows the session secrets: a token made under the old one works while it is still listed, and not after', async () => {
    const OLD = TEST_SECRET;
    const NEW = 'a-newer-secret-that-is-long-enough-9876543210';
    const form = await loginForm(); // made under OLD, t's only secret
    const rotated = await t.sibling({ SESSION_SECRET: `${NEW},${OLD}` });
    const retired = await t.sibling({ SESSION_SECRET: NEW });
    const post = (app: TestApp, token: string, visitor: string) =>
      request(app.app)
        .post('/login')
        .set('Cookie', cookieHeader({ [VISITOR]: visitor }))
        .type('form')
        .send({ _csrf: token, email, password: PASSWORD });
    expectLoggedIn(await post(rotated, form.token, form.visitor));
    expectCleanRefusal(await post(retired, form.token, form.visitor), 403);
    // The same visitor value gets a token under the new secret, which the retired list accepts.
    const renewed = /name="_csrf" value="([^"]+)"/.exec(
      (
        await request(rotated.app)
          .get('/login')
          .set('Cookie', cookieHeader({ [VISITOR]: form.visitor }))
      ).text,
    )?.[1];
    expect(renewed).toBeDefined();
    expect(renewed).not.toBe(form.token);
    expectLoggedIn(await post(retired, renewed ?? '', form.visitor));
  });

  it('says, on the 403 page, that the form expired and to reload it, as for a logged-in form', async () => {
    const form = await loginForm();
    const refused = await expectNobodyLoggedIn(() => postLogin(`${form.token}x`, { [VISITOR]: form.visitor }));
    expect(refused.text).toContain('This form has expired or was sent from another site.');
    expect(refused.text).toContain('reload the page and try again');
  });

  it('refuses a token sent without any visitor cookie', async () => {
    const form = await loginForm();
    await expectNobodyLoggedIn(() => postLogin(form.token, {}));
  });

  it.each([
    ['an hour later', (expiry: number) => expiry + 3600],
    ['an hour earlier', (expiry: number) => expiry - 3600],
    ['a second later', (expiry: number) => expiry + 1],
  ])('refuses a token whose visitor cookie has had its expiry moved %s', async (_label, move) => {
    const form = await loginForm();
    const [, random, expiry] = VISITOR_VALUE.exec(form.visitor) ?? [];
    const tampered = `${random}.${move(Number(expiry))}`;
    await expectNobodyLoggedIn(() => postLogin(form.token, { [VISITOR]: tampered }));
  });

  it.each([
    ['garbage', '%%%'],
    ['no expiry', 'AAAAAAAAAAAAAAAAAAAAAA'],
    ['a huge expiry', `AAAAAAAAAAAAAAAAAAAAAA.${'9'.repeat(400)}`],
    ['a very long value', 'A'.repeat(5000)],
  ])('refuses a token with a visitor cookie holding %s, cleanly', async (_label, value) => {
    const form = await loginForm();
    await expectNobodyLoggedIn(() => postLogin(form.token, { [VISITOR]: value }));
  });

  it('does not sign a token over a hand-made visitor value that claims to outlive the lifetime', async () => {
    const planted = `${'A'.repeat(22)}.${Math.floor(Date.now() / 1000) + 10 * 365 * 24 * 3600}`;
    const form = await loginForm(cookieHeader({ [VISITOR]: planted }));
    expect(form.visitor).toMatch(VISITOR_VALUE);
    expect(form.visitor).not.toBe(planted);
    await expectNobodyLoggedIn(() => postLogin(form.token, { [VISITOR]: planted }));
  });
});

describe("a visitor value's expiry (a fake clock: only Date is faked)", () => {
  const START = new Date('2031-03-04T05:06:07Z');

  it('accepts a token until its visitor value is 12 hours old', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(START);
    const form = await loginForm();
    vi.setSystemTime(START.getTime() + 12 * HOUR - 60_000);
    expectLoggedIn(await postLogin(form.token, { [VISITOR]: form.visitor }));
  });

  it('refuses a token once its visitor value has expired, and a fresh form works again', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(START);
    const form = await loginForm();
    vi.setSystemTime(START.getTime() + 12 * HOUR + 1000);
    await expectNobodyLoggedIn(() => postLogin(form.token, { [VISITOR]: form.visitor }));

    const fresh = await loginForm(cookieHeader({ [VISITOR]: form.visitor }));
    expect(fresh.visitor).toMatch(VISITOR_VALUE);
    expect(fresh.visitor).not.toBe(form.visitor);
    expect(fresh.token).not.toBe(form.token);
    expectLoggedIn(await postLogin(fresh.token, { [VISITOR]: fresh.visitor }));
  });

  it('renews the visitor value when a form is shown in its last hour, so a form shown stays good for an hour', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(START);
    const form = await loginForm();
    vi.setSystemTime(START.getTime() + 11.5 * HOUR);
    const late = await loginForm(cookieHeader({ [VISITOR]: form.visitor }));
    expect(late.visitor).toMatch(VISITOR_VALUE);
    expect(late.visitor).not.toBe(form.visitor);
    vi.setSystemTime(START.getTime() + 12.5 * HOUR - 60_000);
    expectLoggedIn(await postLogin(late.token, { [VISITOR]: late.visitor }));
  });
});

describe('what a visitor still costs', () => {
  it('showing the login page (twice, with the cookies it gave) writes no sessions row and sends no SQL about sessions', async () => {
    const before = await sessionCount(t);
    const browser = new Browser(t.app);
    const sent = await sqlDuring(t, async () => {
      await browser.csrfFrom('/login');
      await browser.csrfFrom('/login');
    });
    expect(sent.filter((text) => /^(INSERT|UPDATE|DELETE)\b/i.test(text))).toEqual([]);
    expect(sent.filter((text) => /\bsessions\b/i.test(text))).toEqual([]);
    expect(browser.sessionCookie()).toBeUndefined();
    expect(await sessionCount(t)).toBe(before);
  });

  it('once logged in, a form needs the token kept in the session, not the visitor cookie', async () => {
    const { browser } = await signedUpBrowser(t.app);
    const token = await browser.csrfFrom('/logout');
    const sid = browser.sessionCookie() ?? '';
    const response = await request(t.app).post('/logout').set('Cookie', sid).type('form').send({ _csrf: token });
    expect(response.status).toBe(303);
    expect(await isLoggedIn(browser)).toBe(false);
  });
});
