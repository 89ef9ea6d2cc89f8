import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, PASSWORD, signedUpBrowser } from './support/browser.js';
import { flashesOn } from './support/pages.js';
import { sessionCount } from './support/users.js';
import { type TestApp, sqlDuring, startTestApp } from './support/test-app.js';

/**
 * A visitor who is not logged in costs no database row (issue 12): every page
 * they can see, every form, the redirect from a protected page and a mailed
 * link with a bad token writes nothing to `sessions`, and no session cookie is
 * handed out. Rows are counted before and after, and every statement the app
 * sends is watched.
 */

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

const ANONYMOUS_VIEWS: Array<[string, string, number | number[]]> = [
  ['the login page', '/login', 200],
  ['the sign-up page', '/signup', 200],
  ['the forgot-password page', '/password/forgot', 200],
  ['the redirect from the dashboard', '/', 302],
  ['the redirect from an account page', '/account/sessions?page=2', 302],
  ['a reset link with a garbage token', '/password/reset?token=garbage', 303],
  ['the reset page with no token', '/password/reset', 400],
  ['a verification link with a garbage token', '/email/verify?token=garbage', 400],
  ['a cancel link with a garbage token', '/email/change/cancel?token=garbage', 400],
  ['the logout page', '/logout', 200],
  ['a page that is not there', '/no/such/page', 404],
];

describe('an anonymous visitor costs no session row', () => {
  it.each(ANONYMOUS_VIEWS)('%s (%s): no row, no session cookie, no write', async (_label, path, status) => {
    const before = await sessionCount(t);
    const browser = new Browser(t.app);
    const sent = await sqlDuring(t, async () => {
      const first = await browser.get(path);
      expect(first.status).toBe(status);
      await browser.get(path); // and again, with whatever cookies the first view gave
    });
    expect(sent.filter((text) => /^(INSERT|UPDATE|DELETE)\b/i.test(text))).toEqual([]);
    expect(sent.filter((text) => /\bsessions\b/i.test(text))).toEqual([]);
    expect(browser.sessionCookie()).toBeUndefined();
    expect(await sessionCount(t)).toBe(before);
  });

  it('keeps every current behaviour: the "must log in" message after the redirect, and next round trip', async () => {
    const before = await sessionCount(t);
    const browser = new Browser(t.app);
    const sent = await browser.get('/account/sessions');
    expect(sent.headers['location']).toBe('/login?next=%2Faccount%2Fsessions');
    const login = await browser.get(sent.headers['location'] as string);
    expect(flashesOn(login.text)).toEqual(['You must be logged in to view that page.']);
    expect(login.text).toContain('name="next" value="/account/sessions"');
    // Shown once: the flash cookie is cleared by the page that shows it.
    expect(flashesOn((await browser.get('/login')).text)).toEqual([]);
    expect(await sessionCount(t)).toBe(before);
  });

  it('a failed login writes no session row either (only the audit trail and the throttle count)', async () => {
    const { fields } = await signedUpBrowser(t.app);
    const before = await sessionCount(t);
    const browser = new Browser(t.app);
    const failed = await browser.submit('/login', '/login', { email: fields.email, password: 'not it at all' });
    expect(failed.status).toBe(422);
    expect(browser.sessionCookie()).toBeUndefined();
    expect(await sessionCount(t)).toBe(before);
  });

  it('the first row is the login: one row, created by the POST that logs in', async () => {
    const { fields } = await signedUpBrowser(t.app);
    const browser = new Browser(t.app);
    await browser.get('/login');
    const before = await sessionCount(t);
    const login = await browser.submit('/login', '/login', { email: fields.email, password: PASSWORD });
    expect(login.status).toBe(303);
    expect(await sessionCount(t)).toBe(before + 1);
  });

  it('logging out leaves no row and no cookie behind, and says goodbye', async () => {
    const { browser } = await signedUpBrowser(t.app);
    const before = await sessionCount(t);
    const out = await browser.submit('/', '/logout', {});
    expect(out.status).toBe(303);
    const page = await browser.get('/login');
    expect(flashesOn(page.text)).toEqual(['You have been logged out.']);
    expect(browser.sessionCookie()).toBeUndefined();
    expect(await sessionCount(t)).toBe(before - 1);
  });

  it('an anonymous POST without the cookie its token came with is refused (403): the token is bound to that browser', async () => {
    const first = new Browser(t.app);
    const token = await first.csrfFrom('/signup');
    const second = new Browser(t.app);
    await second.get('/signup'); // a cookie of its own
    const answer = await second.agent
      .post('/login')
      .type('form')
      .send({ _csrf: token, email: 'a@b.example', password: 'x' });
    expect(answer.status).toBe(403);
  });
});

describe('an authenticated page view is one statement', () => {
  it('reads the session and its user together and writes nothing, view after view', async () => {
    const { browser } = await signedUpBrowser(t.app);
    for (const path of ['/', '/', '/account', '/account/email', '/']) {
      const sent = await sqlDuring(t, async () => expect((await browser.get(path)).status).toBe(200));
      expect(sent).toHaveLength(1);
      expect(sent[0]).toMatch(
        /^SELECT s\.sess, .* FROM sessions s LEFT JOIN users u ON u\.id = s\.user_id AND u\.is_active/,
      );
    }
  });
});
