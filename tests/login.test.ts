import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from './support/test-app.js';
import { Browser, PASSWORD, signedUpBrowser, uniqueEmail } from './support/browser.js';
import { corpus } from './support/corpus.js';
import { LOGIN_REQUIRED, expectSentToLogin, inputTag, inputValue } from './support/pages.js';
import { logIn, sessionSetCookie, sidHash, sidInCookie, signUpFromLoopback, userByEmail } from './support/users.js';

const BAD_LOGIN = 'Invalid email/password combination.';
const THIRTY_DAYS_MS = 30 * 24 * 60 * 60 * 1000;

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

// ---- reading pages and cookies the way a browser would -------------------------

/** The form's hidden `next` value as the browser would send it back ('' when the field has no value). */
const hiddenNext = (html: string): string => {
  if (!inputTag(html, 'next')) throw new Error('the login form has no next field');
  return inputValue(html, 'next') ?? '';
};

/** The page's hidden _csrf token; fails the test when it has none. */
const csrfOf = (html: string): string => {
  const token = inputValue(html, '_csrf');
  if (!token) throw new Error('the page has no _csrf token');
  return token;
};

/** The row of the session with this id (found by its hash, as the table keeps it). */
const sessionRow = async (sid: string): Promise<{ sess: Record<string, unknown>; expire: Date } | undefined> =>
  (await t.pool.query('SELECT sess, expire FROM sessions WHERE sid = $1', [sidHash(sid)])).rows[0];

/** A user who exists (signed up in another browser) plus a fresh anonymous browser to log in with. */
async function existingUser(overrides: { name?: string } = {}) {
  const { email, name, id } = await signUpFromLoopback(t, overrides);
  return { email, name, id, browser: new Browser(t.app) };
}

/** Opens /login?next=<next>, then submits that very form (its hidden next included) as a browser would. */
async function logInFrom(browser: Browser, next: string, email: string, password: string) {
  const page = await browser.get(`/login?next=${encodeURIComponent(next)}`);
  expect(page.status).toBe(200);
  const sentNext = hiddenNext(page.text);
  const response = await browser.agent
    .post('/login')
    .type('form')
    .send({ _csrf: csrfOf(page.text), email, password, next: sentNext });
  return { page, sentNext, response };
}

// ---- the tests -------------------------------------------------------------------

describe('the login form', () => {
  it('has email, password, a remember checkbox, a hidden next and a hidden CSRF token, with autofill hints', async () => {
    const page = await new Browser(t.app).get('/login');
    expect(page.status).toBe(200);

    const email = inputTag(page.text, 'email');
    expect(email).toMatch(/\btype="email"/);
    // "webauthn": the browser may offer the site's passkeys in the field's autofill.
    expect(email).toMatch(/\bautocomplete="username webauthn"/);
    expect(page.text).toMatch(/<label for="email">/);

    const password = inputTag(page.text, 'password');
    expect(password).toMatch(/\btype="password"/);
    expect(password).toMatch(/\bautocomplete="current-password"/);
    expect(page.text).toMatch(/<label for="password">/);

    expect(inputTag(page.text, 'remember')).toMatch(/\btype="checkbox"/);
    expect(page.text).toMatch(/<label for="remember">/);

    expect(inputTag(page.text, 'next')).toMatch(/\btype="hidden"/);
    expect(inputTag(page.text, '_csrf')).toMatch(/\btype="hidden"/);
    expect(csrfOf(page.text)).not.toBe('');
    expect(page.text).toMatch(/<form\b[^>]*\bmethod="post"[^>]*\baction="\/login"/);
  });

  it('sends a logged-in user to the dashboard instead of showing the form', async () => {
    const { browser } = await signedUpBrowser(t.app);
    const response = await browser.get('/login');
    expect([302, 303]).toContain(response.status);
    expect(response.headers['location']).toBe('/');
  });
});

describe('logging in', () => {
  it('with the right password sends the user to the dashboard, which then shows their account', async () => {
    const user = await existingUser({ name: 'Katherine Johnson' });
    expectSentToLogin(await user.browser.get('/'));

    const response = await logIn(user.browser, user.email, PASSWORD);
    expect(response.status).toBe(303);
    expect(response.headers['location']).toBe('/');

    const dashboard = await user.browser.get('/');
    expect(dashboard.status).toBe(200);
    expect(dashboard.text).toContain('Katherine Johnson');
    expect(dashboard.text).toContain(user.email);
  });

  it('records the time of the login in last_login_at', async () => {
    const user = await existingUser();
    await t.pool.query(`UPDATE users SET last_login_at = now() - interval '10 days' WHERE id = $1`, [user.id]);

    expect((await logIn(user.browser, user.email, PASSWORD)).status).toBe(303);

    const { rows } = await t.pool.query(
      `SELECT last_login_at > now() - interval '1 minute' AS recent FROM users WHERE id = $1`,
      [user.id],
    );
    expect(rows[0].recent).toBe(true);
  });

  it('accepts the email in any letter case', async () => {
    const user = await existingUser();
    const response = await logIn(user.browser, user.email.toUpperCase(), PASSWORD);
    expect(response.status).toBe(303);
    expect((await user.browser.get('/')).status).toBe(200);
  });

  it('refuses a wrong password with 422 and the generic message, keeps the email and never echoes the password', async () => {
    const user = await existingUser();
    await t.pool.query(`UPDATE users SET last_login_at = now() - interval '10 days' WHERE id = $1`, [user.id]);
    const wrong = 'Wrong-But-Memorable-9f3c';

    const response = await logIn(user.browser, user.email, wrong);
    expect(response.status).toBe(422);
    expect(response.text).toContain(BAD_LOGIN);
    expect(inputValue(response.text, 'email')).toBe(user.email);
    expect(response.text).not.toContain(wrong);
    expect(inputValue(response.text, 'password')).toBeUndefined();

    expectSentToLogin(await user.browser.get('/'));
    const { rows } = await t.pool.query(
      `SELECT last_login_at < now() - interval '1 day' AS untouched FROM users WHERE id = $1`,
      [user.id],
    );
    expect(rows[0].untouched).toBe(true);
  });

  it('answers an unknown email exactly as it answers a wrong password', async () => {
    const user = await existingUser();
    const unknown = uniqueEmail('nobody');
    const wrongPassword = await logIn(new Browser(t.app), user.email, 'not-the-password');
    const unknownEmail = await logIn(new Browser(t.app), unknown, 'not-the-password');

    expect(unknownEmail.status).toBe(422);
    expect(wrongPassword.status).toBe(422);
    expect(unknownEmail.text).toContain(BAD_LOGIN);
    expect(inputValue(unknownEmail.text, 'email')).toBe(unknown);
    // Apart from the typed email and the per-session token, the two pages are the same page.
    const normalise = (html: string, email: string) =>
      html.replaceAll(email, 'EMAIL').replace(/name="_csrf" value="[^"]*"/g, 'name="_csrf" value="TOKEN"');
    expect(normalise(unknownEmail.text, unknown)).toBe(normalise(wrongPassword.text, user.email));
  });

  it('starts the session at the login: none before it, and a session cookie carried in is never adopted', async () => {
    const user = await existingUser();
    const page = await user.browser.get('/login');
    expect(user.browser.sessionCookie(), 'the login form needs no session for its CSRF token').toBeUndefined();

    // A session cookie from somewhere else (an earlier login of someone else's, planted in this browser)
    // is not what the login gives: the login makes a new id.
    const other = await existingUser();
    expect((await logIn(other.browser, other.email, PASSWORD)).status).toBe(303);
    const planted = other.browser.sessionCookie() ?? '';
    const plantedSid = sidInCookie(planted);
    await other.browser.submit('/', '/logout', {});
    expect(await sessionRow(plantedSid)).toBeUndefined();

    const response = await user.browser.agent
      .post('/login')
      .set(
        'Cookie',
        [
          planted,
          ...((page.headers['set-cookie'] as unknown as string[]) ?? []).map((line) => line.split(';')[0]),
        ].join('; '),
      )
      .type('form')
      .send({ _csrf: csrfOf(page.text), email: user.email, password: PASSWORD });
    expect(response.status).toBe(303);

    const after = user.browser.sessionCookie();
    expect(after).toBeDefined();
    const newSid = sidInCookie(after ?? '');
    expect(newSid).not.toBe(plantedSid);
    expect(await sessionRow(newSid)).toBeDefined();
    expect(await sessionRow(plantedSid)).toBeUndefined();
    expect(
      (
        await request(t.app)
          .get('/')
          .set('Cookie', after ?? '')
      ).status,
    ).toBe(200);
    expectSentToLogin(await request(t.app).get('/').set('Cookie', planted));
  });

  it('keeps only the user id in the session row, nothing else about the user', async () => {
    const user = await existingUser({ name: 'Unmistakable Zebulon Name' });
    expect((await logIn(user.browser, user.email, PASSWORD)).status).toBe(303);
    const sid = sidInCookie(user.browser.sessionCookie() ?? '');
    const row = await userByEmail(t, user.email);
    if (!row) throw new Error('no user row');
    const hash = row.password_hash;

    const check = async () => {
      const row = await sessionRow(sid);
      expect(row).toBeDefined();
      const sess = row?.sess ?? {};
      expect(Object.values(sess).map(String)).toContain(String(user.id));
      const text = JSON.stringify(sess);
      expect(text.toLowerCase()).not.toContain(user.email.toLowerCase());
      expect(text).not.toContain('Zebulon');
      expect(text).not.toContain(hash);
      expect(text).not.toContain(PASSWORD);
    };
    await check();
    expect((await user.browser.get('/')).status).toBe(200); // rendering pages may add a CSRF token
    await check();
  });

  it('refuses a deactivated user with the same message, even with the right password', async () => {
    const user = await existingUser();
    await t.pool.query('UPDATE users SET is_active = false WHERE id = $1', [user.id]);

    const response = await logIn(user.browser, user.email, PASSWORD);
    expect(response.status).toBe(422);
    expect(response.text).toContain(BAD_LOGIN);
    expectSentToLogin(await user.browser.get('/'));
  });

  it('ends the open session of a user who is deactivated, on its next request', async () => {
    const { browser, fields } = await signedUpBrowser(t.app);
    expect((await browser.get('/')).status).toBe(200);

    await t.pool.query('UPDATE users SET is_active = false WHERE lower(email) = lower($1)', [fields.email]);

    const response = await browser.get('/');
    expectSentToLogin(response);
    expect((await browser.get('/')).status).not.toBe(200);
  });
});

describe('the session cookie', () => {
  it('is HttpOnly, SameSite=Lax, Path=/ and ends with the browser when "remember me" is not ticked', async () => {
    const user = await existingUser();
    const response = await logIn(user.browser, user.email, PASSWORD);
    expect(response.status).toBe(303);

    const cookie = sessionSetCookie(response);
    expect(cookie).toBeDefined();
    expect(cookie).toMatch(/;\s*HttpOnly(;|$)/i);
    expect(cookie).toMatch(/;\s*SameSite=Lax(;|$)/i);
    expect(cookie).toMatch(/;\s*Path=\/(;|$)/);
    expect(cookie).not.toMatch(/;\s*Expires=/i);
    expect(cookie).not.toMatch(/;\s*Max-Age=/i);
  });

  it('lasts 30 days, and so does the session behind it, when "remember me" is ticked', async () => {
    const user = await existingUser();
    const page = await user.browser.get('/login');
    const remember = inputValue(page.text, 'remember') ?? 'on';
    const response = await user.browser.agent
      .post('/login')
      .type('form')
      .send({ _csrf: csrfOf(page.text), email: user.email, password: PASSWORD, remember });
    expect(response.status).toBe(303);

    const cookie = sessionSetCookie(response) ?? '';
    expect(cookie).toMatch(/;\s*HttpOnly(;|$)/i);
    expect(cookie).toMatch(/;\s*SameSite=Lax(;|$)/i);
    expect(cookie).toMatch(/;\s*Path=\/(;|$)/);
    const maxAge = /;\s*Max-Age=(\d+)/i.exec(cookie)?.[1];
    const expires = /;\s*Expires=([^;]+)/i.exec(cookie)?.[1];
    expect(maxAge !== undefined || expires !== undefined, `no lifetime on ${cookie}`).toBe(true);
    const lifetimeMs = maxAge !== undefined ? Number(maxAge) * 1000 : Date.parse(expires ?? '') - Date.now();
    expect(Math.abs(lifetimeMs - THIRTY_DAYS_MS)).toBeLessThan(5 * 60 * 1000);

    const row = await sessionRow(sidInCookie(cookie));
    expect(row).toBeDefined();
    expect(Math.abs((row?.expire.getTime() ?? 0) - Date.now() - THIRTY_DAYS_MS)).toBeLessThan(24 * 60 * 60 * 1000);
  });
});

describe('going back to the page that asked for a login', () => {
  it('sends an anonymous visitor of /?tab=2 to the login page, explains why, and returns them to /?tab=2', async () => {
    const { email, browser } = await existingUser();

    const refused = await browser.get('/?tab=2');
    expect([302, 303]).toContain(refused.status);
    expect(refused.headers['location']).toBe('/login?next=%2F%3Ftab%3D2');

    const page = await browser.get(refused.headers['location'] ?? '');
    expect(page.status).toBe(200);
    expect(page.text).toContain(LOGIN_REQUIRED);
    expect(hiddenNext(page.text)).toBe('/?tab=2');

    const response = await browser.agent
      .post('/login')
      .type('form')
      .send({ _csrf: csrfOf(page.text), email, password: PASSWORD, next: hiddenNext(page.text) });
    expect(response.status).toBe(303);
    expect(response.headers['location']).toBe('/?tab=2');
    expect((await browser.get('/?tab=2')).status).toBe(200);
  });

  it('does not show the "must be logged in" message to someone who just opened the login page', async () => {
    const page = await new Browser(t.app).get('/login?next=%2F');
    expect(page.status).toBe(200);
    expect(page.text).not.toContain(LOGIN_REQUIRED);
  });

  it.each(corpus('good-next.txt'))(
    'follows the local next %j exactly, through the query, a failed try and the form',
    async (next) => {
      const user = await existingUser();
      const page = await user.browser.get(`/login?next=${encodeURIComponent(next)}`);
      expect(hiddenNext(page.text)).toBe(next);

      const failed = await user.browser.agent
        .post('/login')
        .type('form')
        .send({
          _csrf: csrfOf(page.text),
          email: user.email,
          password: 'not-the-password',
          next: hiddenNext(page.text),
        });
      expect(failed.status).toBe(422);
      expect(hiddenNext(failed.text)).toBe(next);

      const response = await user.browser.agent
        .post('/login')
        .type('form')
        .send({ _csrf: csrfOf(failed.text), email: user.email, password: PASSWORD, next: hiddenNext(failed.text) });
      expect(response.status).toBe(303);
      expect(response.headers['location']).toBe(next);
    },
  );

  describe.each(corpus('bad-next.txt'))('for the foreign or unsafe next %j', (next) => {
    it('the login page does not put it in its form, and logging in from there lands on /', async () => {
      const user = await existingUser();
      const { sentNext, response } = await logInFrom(user.browser, next, user.email, PASSWORD);
      expect(sentNext).not.toBe(next);
      expect(['', '/']).toContain(sentNext);
      expect(response.status).toBe(303);
      expect(response.headers['location']).toBe('/');
    });

    it('posted with the login form, a successful login still lands on /', async () => {
      const user = await existingUser();
      const response = await logIn(user.browser, user.email, PASSWORD, { next });
      expect(response.status).toBe(303);
      const location = response.headers['location'] ?? '';
      expect(location.startsWith('//') || location.startsWith('/\\')).toBe(false);
      expect(location).toBe('/');
    });

    it.each([
      ['a wrong password', 'not-the-password'],
      ['an empty password', ''],
    ])('posted with %s, the form shown again does not carry it', async (_case, password) => {
      const user = await existingUser();
      const response = await logIn(user.browser, user.email, password, { next });
      expect(response.status).toBe(422);
      const sentNext = hiddenNext(response.text);
      expect(sentNext).not.toBe(next);
      expect(['', '/']).toContain(sentNext);
    });
  });
});
