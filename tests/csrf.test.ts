import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Response } from 'supertest';
import { type TestApp, startTestApp } from './support/test-app.js';
import { Browser, PASSWORD, signedUpBrowser, signupFields } from './support/browser.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

const userCount = async () => Number((await t.pool.query('SELECT count(*) FROM users')).rows[0].count);
const userExists = async (email: string) =>
  (await t.pool.query('SELECT 1 FROM users WHERE lower(email) = lower($1)', [email])).rowCount === 1;
const lastLoginOf = async (email: string): Promise<string> => {
  const { rows } = await t.pool.query('SELECT last_login_at FROM users WHERE lower(email) = lower($1)', [email]);
  return (rows[0].last_login_at as Date).toISOString();
};

/** Whether this browser's session is logged in: the dashboard answers instead of redirecting. */
const isLoggedIn = async (browser: Browser) => (await browser.get('/')).status === 200;

/** A 403 page in the site's layout, with no trace of the server's insides. */
function expectForbiddenPage(response: Response) {
  expect(response.status).toBe(403);
  expect(response.headers['content-type']).toMatch(/^text\/html/);
  expect(response.text).toContain('Gatehouse');
  expect(response.text).toMatch(/<h1>[^<]+<\/h1>/);
  expect(response.text).not.toMatch(/\bat .*:\d+:\d+|Error:|node_modules/);
}

/** An existing account and a fresh (logged-out) browser that has loaded the login form. */
async function memberAtLoginForm() {
  const { fields } = await signedUpBrowser(t.app);
  const browser = new Browser(t.app);
  const csrf = await browser.csrfFrom('/login');
  return { browser, csrf, email: fields.email };
}

const post = (browser: Browser, path: string, fields: Record<string, string>) =>
  browser.agent.post(path).type('form').send(fields);

describe('forms sent without a token', () => {
  it('refuses a signup with 403 and creates no user', async () => {
    const browser = new Browser(t.app);
    await browser.csrfFrom('/signup');
    const fields = signupFields();
    const before = await userCount();
    const response = await post(browser, '/signup', { ...fields });
    expectForbiddenPage(response);
    expect(await userExists(fields.email)).toBe(false);
    expect(await userCount()).toBe(before);
    expect(await isLoggedIn(browser)).toBe(false);
  });

  it('refuses a login with 403 and neither logs in nor records a login', async () => {
    const { browser, email } = await memberAtLoginForm();
    const lastLogin = await lastLoginOf(email);
    const response = await post(browser, '/login', { email, password: PASSWORD });
    expectForbiddenPage(response);
    expect(await isLoggedIn(browser)).toBe(false);
    expect(await lastLoginOf(email)).toBe(lastLogin);
  });

  it('refuses a logout with 403 and leaves the user logged in', async () => {
    const { browser } = await signedUpBrowser(t.app);
    const response = await post(browser, '/logout', {});
    expectForbiddenPage(response);
    expect(await isLoggedIn(browser)).toBe(true);
  });

  it.each([
    ['an empty token', ''],
    ['a made-up token', 'not-a-real-token'],
    ['a very long token', 'a'.repeat(5000)],
  ])('refuses a login carrying %s with 403', async (_label, token) => {
    const { browser, email } = await memberAtLoginForm();
    const response = await post(browser, '/login', { _csrf: token, email, password: PASSWORD });
    expectForbiddenPage(response);
    expect(await isLoggedIn(browser)).toBe(false);
  });

  it('refuses a signup from a visitor with no session at all, whatever token they invent', async () => {
    const browser = new Browser(t.app);
    const fields = signupFields();
    const response = await post(browser, '/signup', { _csrf: 'invented', ...fields });
    expectForbiddenPage(response);
    expect(await userExists(fields.email)).toBe(false);
  });
});

describe("tokens taken from another visitor's session", () => {
  it('refuses a signup with 403 and creates no user', async () => {
    const attacker = new Browser(t.app);
    const stolen = await attacker.csrfFrom('/signup');
    const victim = new Browser(t.app);
    const own = await victim.csrfFrom('/signup');
    expect(own).not.toBe(stolen);
    const fields = signupFields();
    const response = await post(victim, '/signup', { _csrf: stolen, ...fields });
    expectForbiddenPage(response);
    expect(await userExists(fields.email)).toBe(false);
  });

  it('refuses a login with 403 and does not log in', async () => {
    const attacker = new Browser(t.app);
    const stolen = await attacker.csrfFrom('/login');
    const { browser: victim, email } = await memberAtLoginForm();
    const lastLogin = await lastLoginOf(email);
    const response = await post(victim, '/login', { _csrf: stolen, email, password: PASSWORD });
    expectForbiddenPage(response);
    expect(await isLoggedIn(victim)).toBe(false);
    expect(await lastLoginOf(email)).toBe(lastLogin);
  });

  it("refuses a logout with another logged-in user's token and keeps the victim logged in", async () => {
    const { browser: attacker } = await signedUpBrowser(t.app);
    const stolen = await attacker.csrfFrom('/logout');
    const { browser: victim } = await signedUpBrowser(t.app);
    const response = await post(victim, '/logout', { _csrf: stolen });
    expectForbiddenPage(response);
    expect(await isLoggedIn(victim)).toBe(true);
    expect(await isLoggedIn(attacker)).toBe(true);
  });
});

describe('tokens across logging in and out', () => {
  it('refuses the token from before login once the session has logged in, and accepts the fresh one', async () => {
    const { browser, csrf: beforeLogin, email } = await memberAtLoginForm();
    const login = await post(browser, '/login', { _csrf: beforeLogin, email, password: PASSWORD });
    expect(login.status).toBe(303);
    expect(await isLoggedIn(browser)).toBe(true);

    const stale = await post(browser, '/logout', { _csrf: beforeLogin });
    expectForbiddenPage(stale);
    expect(await isLoggedIn(browser)).toBe(true);

    const fresh = await browser.csrfFrom('/logout');
    expect(fresh).not.toBe(beforeLogin);
    const logout = await post(browser, '/logout', { _csrf: fresh });
    expect(logout.status).toBe(303);
    expect(await isLoggedIn(browser)).toBe(false);
  });

  it('refuses the token from the signup form once the new account is logged in', async () => {
    const browser = new Browser(t.app);
    const beforeSignup = await browser.csrfFrom('/signup');
    const signup = await post(browser, '/signup', { _csrf: beforeSignup, ...signupFields() });
    expect(signup.status).toBe(303);
    const stale = await post(browser, '/logout', { _csrf: beforeSignup });
    expectForbiddenPage(stale);
    expect(await isLoggedIn(browser)).toBe(true);
  });

  it('refuses the token from before logout for the next login', async () => {
    const { browser, fields } = await signedUpBrowser(t.app);
    const loggedInToken = await browser.csrfFrom('/logout');
    expect((await post(browser, '/logout', { _csrf: loggedInToken })).status).toBe(303);
    const lastLogin = await lastLoginOf(fields.email);
    const response = await post(browser, '/login', { _csrf: loggedInToken, email: fields.email, password: PASSWORD });
    expectForbiddenPage(response);
    expect(await isLoggedIn(browser)).toBe(false);
    expect(await lastLoginOf(fields.email)).toBe(lastLogin);
  });
});

describe('where the browser says a form came from', () => {
  const crossSiteHeaders: Array<[string, Record<string, string>]> = [
    ['Sec-Fetch-Site: cross-site', { 'Sec-Fetch-Site': 'cross-site' }],
    ['Origin: https://evil.example and no Sec-Fetch-Site', { Origin: 'https://evil.example' }],
  ];

  it.each(crossSiteHeaders)('refuses a signup with a valid token and %s', async (_label, headers) => {
    const browser = new Browser(t.app);
    const csrf = await browser.csrfFrom('/signup');
    const fields = signupFields();
    const response = await browser.agent
      .post('/signup')
      .set(headers)
      .type('form')
      .send({ _csrf: csrf, ...fields });
    expectForbiddenPage(response);
    expect(await userExists(fields.email)).toBe(false);
  });

  it.each(crossSiteHeaders)('refuses a login with a valid token and %s', async (_label, headers) => {
    const { browser, csrf, email } = await memberAtLoginForm();
    const lastLogin = await lastLoginOf(email);
    const response = await browser.agent
      .post('/login')
      .set(headers)
      .type('form')
      .send({ _csrf: csrf, email, password: PASSWORD });
    expectForbiddenPage(response);
    expect(await isLoggedIn(browser)).toBe(false);
    expect(await lastLoginOf(email)).toBe(lastLogin);
  });

  it.each(crossSiteHeaders)('refuses a logout with a valid token and %s', async (_label, headers) => {
    const { browser } = await signedUpBrowser(t.app);
    const csrf = await browser.csrfFrom('/logout');
    const response = await browser.agent.post('/logout').set(headers).type('form').send({ _csrf: csrf });
    expectForbiddenPage(response);
    expect(await isLoggedIn(browser)).toBe(true);
  });

  it('accepts a signup with a valid token and Sec-Fetch-Site: same-origin', async () => {
    const browser = new Browser(t.app);
    const csrf = await browser.csrfFrom('/signup');
    const fields = signupFields();
    const response = await browser.agent
      .post('/signup')
      .set('Sec-Fetch-Site', 'same-origin')
      .type('form')
      .send({ _csrf: csrf, ...fields });
    expect(response.status).toBe(303);
    expect(await userExists(fields.email)).toBe(true);
    expect(await isLoggedIn(browser)).toBe(true);
  });

  it('accepts a login and a logout with a valid token and Sec-Fetch-Site: same-origin', async () => {
    const { browser, csrf, email } = await memberAtLoginForm();
    const login = await browser.agent
      .post('/login')
      .set('Sec-Fetch-Site', 'same-origin')
      .type('form')
      .send({ _csrf: csrf, email, password: PASSWORD });
    expect(login.status).toBe(303);
    expect(await isLoggedIn(browser)).toBe(true);
    const fresh = await browser.csrfFrom('/logout');
    const logout = await browser.agent
      .post('/logout')
      .set('Sec-Fetch-Site', 'same-origin')
      .type('form')
      .send({ _csrf: fresh });
    expect(logout.status).toBe(303);
    expect(await isLoggedIn(browser)).toBe(false);
  });

  it('accepts a login whose Origin is this site itself', async () => {
    const { browser, csrf, email } = await memberAtLoginForm();
    const response = await browser.agent
      .post('/login')
      .set('Host', 'gatehouse.test')
      .set('Origin', 'http://gatehouse.test')
      .type('form')
      .send({ _csrf: csrf, email, password: PASSWORD });
    expect(response.status).toBe(303);
    expect(await isLoggedIn(browser)).toBe(true);
  });

  it('still wants the token when the browser says same-origin', async () => {
    const { browser, email } = await memberAtLoginForm();
    const response = await browser.agent
      .post('/login')
      .set('Sec-Fetch-Site', 'same-origin')
      .type('form')
      .send({ email, password: PASSWORD });
    expectForbiddenPage(response);
    expect(await isLoggedIn(browser)).toBe(false);
  });

  it('marks pages and form answers as varying with Sec-Fetch-Site', async () => {
    const varies = (response: Response) =>
      String(response.headers['vary'] ?? '')
        .split(',')
        .map((name) => name.trim().toLowerCase());
    const browser = new Browser(t.app);
    for (const path of ['/login', '/signup', '/logout']) {
      expect(varies(await browser.get(path)), path).toContain('sec-fetch-site');
    }
    const { browser: member, csrf, email } = await memberAtLoginForm();
    const refused = await member.agent
      .post('/login')
      .set('Sec-Fetch-Site', 'cross-site')
      .type('form')
      .send({ _csrf: csrf, email, password: PASSWORD });
    expect(refused.status).toBe(403);
    expect(varies(refused)).toContain('sec-fetch-site');
    const accepted = await member.agent.post('/login').type('form').send({ _csrf: csrf, email, password: PASSWORD });
    expect(accepted.status).toBe(303);
    expect(varies(accepted)).toContain('sec-fetch-site');
    expect(varies(await member.get('/'))).toContain('sec-fetch-site');
  });
});
