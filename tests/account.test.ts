import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from './support/test-app.js';
import { Browser, NEW_PASSWORD, PASSWORD, signedUpBrowser, uniqueEmail } from './support/browser.js';
import { badFields } from './support/corpus.js';
import { followLink } from './support/mail.js';
import {
  LOGIN_REQUIRED,
  expectCleanRefusal,
  expectSentToLogin,
  fieldError,
  fieldsWithErrors,
  flashesOn,
  inputTag,
  inputValue,
  isLoggedIn,
} from './support/pages.js';
import {
  LOOPBACK,
  eventRowsOf,
  loggedInBrowser,
  loginStatus,
  newEventRowsOf,
  sessionIdOf,
  sessionRowsOf,
  sessionSetCookie,
  sidHash,
  sidHashOf,
  sidOf,
  signUpFromLoopback,
  snapshot,
  userById,
} from './support/users.js';

const WRONG_PASSWORD = 'That is not your current password.';
const CURRENT_REQUIRED = 'Enter your current password.';
const EMAIL_TAKEN = 'A user already exists with that email address.';
const PASSWORD_CHANGED = 'Your password was changed, and every other session of your account has been signed out.';
const DELETED = 'Your account and its sessions have been deleted. Goodbye.';
const CONFIRM_DELETE = 'Tick the box to confirm that the account should be deleted.';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

const PAGES = ['/account', '/account/email', '/account/password', '/account/sessions', '/account/delete'];

/** Every form on the account pages: where its token comes from, where it posts, and a body that would change something. */
const FORMS: Array<{ page: string; action: string; fields: (other: { sessionId: string }) => Record<string, string> }> =
  [
    { page: '/account', action: '/account', fields: () => ({ name: 'Changed Name', website: 'https://changed.test' }) },
    { page: '/account/email', action: '/account/email', fields: () => ({ email: uniqueEmail(), password: PASSWORD }) },
    {
      page: '/account/password',
      action: '/account/password',
      fields: () => ({ current: PASSWORD, password: NEW_PASSWORD, confirm: NEW_PASSWORD }),
    },
    { page: '/account/delete', action: '/account/delete', fields: () => ({ password: PASSWORD, confirm: '1' }) },
    { page: '/account/sessions', action: '/account/sessions/end', fields: ({ sessionId }) => ({ id: sessionId }) },
    { page: '/account/sessions', action: '/account/sessions/end-others', fields: () => ({}) },
  ];

// ---- who may see the pages --------------------------------------------------------

describe('the account pages, for visitors who are not logged in', () => {
  it.each(PAGES)('sends an anonymous GET %s to /login with the page as next', async (page) => {
    const browser = new Browser(t.app);
    const response = await browser.get(page);
    expectSentToLogin(response, page);
    expect(response.status).toBe(302);
    const login = await browser.get(response.headers['location'] as string);
    expect(login.status).toBe(200);
    expect(flashesOn(login.text)).toContain(LOGIN_REQUIRED);
  });

  it('keeps the query of the page asked for in next', async () => {
    expectSentToLogin(await new Browser(t.app).get('/account/sessions?x=1'), '/account/sessions?x=1');
  });

  it('returns the user to the account page they asked for once they log in', async () => {
    const { email } = await signUpFromLoopback(t);
    const browser = new Browser(t.app);
    const asked = await browser.get('/account/password');
    const loginPage = await browser.get(asked.headers['location'] as string);
    const next = inputValue(loginPage.text, 'next');
    expect(next).toBe('/account/password');
    const response = await browser.submit('/login', '/login', { email, password: PASSWORD, next: next ?? '' });
    expect(response.status).toBe(303);
    expect(response.headers['location']).toBe('/account/password');
  });

  it.each(FORMS.map((form) => [form.action, form] as const))(
    'sends an anonymous POST %s with a valid form token to /login and changes nothing',
    async (action, form) => {
      const victim = await signUpFromLoopback(t);
      const second = await loggedInBrowser(t.app, victim.email);
      const sessionId = await sessionIdOf(t, second);
      const before = await snapshot(t, victim.id);

      const anonymous = new Browser(t.app);
      const response = await anonymous.submit('/login', action, form.fields({ sessionId }));
      expectSentToLogin(response);
      expect(await snapshot(t, victim.id)).toEqual(before);
      expect(await isLoggedIn(second)).toBe(true);
    },
  );
});

describe('the account pages, for a logged-in user', () => {
  it.each(PAGES)('shows GET %s with the account navigation', async (page) => {
    const { browser } = await signUpFromLoopback(t);
    const response = await browser.get(page);
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.text).toContain(`href="${page}" aria-current="page"`);
  });

  it.each(PAGES.filter((page) => page !== '/account/sessions'))(
    'has a form on %s that posts to itself with a CSRF token',
    async (page) => {
      const { browser } = await signUpFromLoopback(t);
      const response = await browser.get(page);
      expect(response.text).toMatch(new RegExp(`<form\\b[^>]*\\bmethod="post"[^>]*\\baction="${page}"`));
      expect(inputTag(response.text, '_csrf')).toMatch(/type="hidden"/);
      expect(inputValue(response.text, '_csrf')).toBeTruthy();
    },
  );

  it('is linked from the dashboard', async () => {
    const { browser } = await signUpFromLoopback(t);
    const dashboard = await browser.get('/');
    for (const page of PAGES) expect(dashboard.text).toContain(`href="${page}"`);
  });

  it.each([
    ['PUT', '/account'],
    ['DELETE', '/account'],
    ['PATCH', '/account/email'],
    ['PUT', '/account/password'],
    ['DELETE', '/account/delete'],
    ['POST', '/account/sessions'],
    ['DELETE', '/account/sessions'],
    ['GET', '/account/sessions/end'],
    ['PUT', '/account/sessions/end'],
    ['GET', '/account/sessions/end-others'],
    ['DELETE', '/account/sessions/end-others'],
  ])('answers %s %s with 405 and an Allow header', async (method, path) => {
    const victim = await signUpFromLoopback(t);
    const before = await snapshot(t, victim.id);
    const verb = method.toLowerCase() as 'get' | 'put' | 'delete' | 'patch' | 'post';
    const response = await victim.browser.agent[verb](path);
    expectCleanRefusal(response, 405);
    expect(response.headers['allow']).toBeTruthy();
    expect(response.headers['allow']).not.toContain(method);
    expect(await snapshot(t, victim.id)).toEqual(before);
  });
});

describe('CSRF on the account forms', () => {
  const cases = FORMS.flatMap((form) => [
    [form.action, 'no token', form] as const,
    [form.action, 'a wrong token', form] as const,
    [form.action, "another session's token", form] as const,
  ]);

  it.each(cases)('refuses POST %s with %s: 403, nothing changed', async (action, kind, form) => {
    const victim = await signUpFromLoopback(t);
    const second = await loggedInBrowser(t.app, victim.email);
    const sessionId = await sessionIdOf(t, second);
    await victim.browser.get(form.page);
    const before = await snapshot(t, victim.id);
    const eventsBefore = (await eventRowsOf(t, victim.id)).length;

    let token: string | undefined;
    if (kind === 'a wrong token') token = 'not-the-token';
    if (kind === "another session's token") token = await new Browser(t.app).csrfFrom('/login');
    const response = await victim.browser.agent
      .post(action)
      .type('form')
      .send({ ...(token === undefined ? {} : { _csrf: token }), ...form.fields({ sessionId }) });

    expectCleanRefusal(response, 403);
    expect(await snapshot(t, victim.id)).toEqual(before);
    expect(await newEventRowsOf(t, victim.id, eventsBefore)).toEqual([]);
    expect(await isLoggedIn(victim.browser)).toBe(true);
    expect(await isLoggedIn(second)).toBe(true);
  });
});

// ---- profile ------------------------------------------------------------------------

describe('the profile page', () => {
  it('shows the current name and website in the form', async () => {
    const { browser } = await signUpFromLoopback(t, { name: 'Grace Hopper', website: 'https://grace.example' });
    const page = await browser.get('/account');
    expect(inputValue(page.text, 'name')).toBe('Grace Hopper');
    expect(inputValue(page.text, 'website')).toBe('https://grace.example');
  });

  it('saves a new name and website, says so, and the dashboard shows them', async () => {
    const user = await signUpFromLoopback(t);
    const response = await user.browser.submit('/account', '/account', {
      name: '  Mary Jackson  ',
      website: ' https://mary.example/about ',
    });
    expect(response.status).toBe(303);
    expect(response.headers['location']).toBe('/account');

    const state = await userById(t, user.id);
    expect(state?.name).toBe('Mary Jackson');
    expect(state?.website).toBe('https://mary.example/about');
    expect(state?.email).toBe(user.email);

    const page = await user.browser.get('/account');
    expect(flashesOn(page.text)).toContain('Your profile was saved.');
    expect(inputValue(page.text, 'name')).toBe('Mary Jackson');
    const dashboard = await user.browser.get('/');
    expect(dashboard.text).toContain('Mary Jackson');
    expect(dashboard.text).toContain('href="https://mary.example/about"');
  });

  it('clears the website when it is left empty, or left out of the form', async () => {
    const user = await signUpFromLoopback(t, { website: 'https://before.example' });
    expect((await user.browser.submit('/account', '/account', { name: 'No Site', website: '' })).status).toBe(303);
    expect((await userById(t, user.id))?.website).toBeNull();

    await t.pool.query("UPDATE users SET website = 'https://again.example' WHERE id = $1", [user.id]);
    expect((await user.browser.submit('/account', '/account', { name: 'No Site' })).status).toBe(303);
    expect((await userById(t, user.id))?.website).toBeNull();
  });

  it('records profile_changed in the audit trail, with the IP and browser', async () => {
    const user = await signUpFromLoopback(t);
    const before = (await eventRowsOf(t, user.id)).length;
    await user.browser.agent.set('User-Agent', 'ProfileTest/1.0');
    expect((await user.browser.submit('/account', '/account', { name: 'Audited', website: '' })).status).toBe(303);
    const events = await newEventRowsOf(t, user.id, before);
    expect(events.map((row) => row.event)).toEqual(['profile_changed']);
    expect(events[0]?.ip).toMatch(LOOPBACK);
    expect(events[0]?.user_agent).toBe('ProfileTest/1.0');
  });

  it.each([
    ['an empty name', { name: '', website: '' }, 'name', 'This field is required.'],
    ['a name of spaces', { name: '   ', website: '' }, 'name', 'This field is required.'],
    ['a name over 100 characters', { name: 'n'.repeat(101), website: '' }, 'name', /at most 100 characters/],
    ['a name with a control character', { name: 'Ada\u0007Lovelace', website: '' }, 'name', /control character/],
    ['a javascript: website', { name: 'Ada', website: 'javascript:alert(1)' }, 'website', 'Enter a valid URL.'],
    ['an ftp website', { name: 'Ada', website: 'ftp://example.com' }, 'website', 'Enter a valid URL.'],
    ['a website with no scheme', { name: 'Ada', website: 'example.com' }, 'website', 'Enter a valid URL.'],
    [
      'a website over 200 characters',
      { name: 'Ada', website: `https://example.com/${'p'.repeat(190)}` },
      'website',
      'Enter a valid URL.',
    ],
  ])(
    'refuses %s with 422 and the field error, keeps the typed values, changes nothing',
    async (_label, fields, field, message) => {
      const user = await signUpFromLoopback(t, { name: 'Before Name', website: 'https://before.example' });
      const before = await snapshot(t, user.id);
      const eventsBefore = (await eventRowsOf(t, user.id)).length;

      const response = await user.browser.submit('/account', '/account', fields);
      expect(response.status).toBe(422);
      expect(fieldsWithErrors(response.text)).toEqual([field]);
      if (typeof message === 'string') expect(fieldError(response.text, field)).toBe(message);
      else expect(fieldError(response.text, field)).toMatch(message);
      expect(inputTag(response.text, field)).toMatch(/aria-invalid="true"/);
      expect(inputValue(response.text, 'name') ?? '').toBe(fields.name);
      expect(inputValue(response.text, 'website') ?? '').toBe(fields.website);

      expect(await snapshot(t, user.id)).toEqual(before);
      expect(await newEventRowsOf(t, user.id, eventsBefore)).toEqual([]);
    },
  );

  it('shows both field errors when both fields are wrong', async () => {
    const { browser } = await signUpFromLoopback(t);
    const response = await browser.submit('/account', '/account', { name: '', website: 'nope' });
    expect(response.status).toBe(422);
    expect(fieldsWithErrors(response.text).sort()).toEqual(['name', 'website']);
  });

  it.each([
    ['an unknown field', { name: 'Ada', website: '', is_admin: 'true' }],
    ['a repeated name', { name: ['Ada', 'Eve'], website: '' }],
    ['an email field (the profile does not change the email)', { name: 'Ada', website: '', email: 'x@example.com' }],
  ])('answers a profile form with %s with 400, nothing changed', async (_label, fields) => {
    const user = await signUpFromLoopback(t);
    const before = await snapshot(t, user.id);
    const response = await user.browser.submit('/account', '/account', fields);
    expectCleanRefusal(response, 400);
    expect(await snapshot(t, user.id)).toEqual(before);
  });

  it("never changes or shows another user's profile, whatever id is put in the form or the URL", async () => {
    const user = await signUpFromLoopback(t, { name: 'Own Name' });
    const other = await signUpFromLoopback(t, { name: 'Other Person', website: 'https://other.example' });
    const otherBefore = await snapshot(t, other.id);
    const attempts: Array<Record<string, string>> = [
      { name: 'Hijacked', website: '', id: other.id },
      { name: 'Hijacked', website: '', userId: other.id },
      { name: 'Hijacked', website: '', email: other.email },
    ];
    for (const fields of attempts) {
      const response = await user.browser.submit('/account', '/account', fields);
      expect(response.status).toBeLessThan(500);
      expect(response.text).not.toContain('Other Person');
    }
    const viaUrl = await user.browser.submit('/account', `/account?id=${other.id}`, { name: 'Own Again', website: '' });
    expect(viaUrl.status).toBe(303);
    for (const path of [`/account?id=${other.id}`, `/account?user_id=${other.id}`, `/account/email?id=${other.id}`]) {
      const page = await user.browser.get(path);
      expect(page.status).toBe(200);
      expect(page.text).not.toContain('Other Person');
      expect(page.text).not.toContain(other.email);
    }
    expect(await snapshot(t, other.id)).toEqual(otherBefore);
    expect((await userById(t, user.id))?.name).toBe('Own Again');
  });

  const hostileNames = [
    ...new Set([
      ...badFields()
        .map(([, value]) => value)
        .filter(
          (value) => value.trim() !== '' && value.trim().length <= 100 && !/[\u0000-\u001f\u007f-\u009f]/.test(value),
        ),
      '<script>alert(1)</script>',
      '"><img src=x onerror=alert(1)>',
      "O'Brien & Sons <b>bold</b>",
      '{{ 7*7 }} {% raw %}',
      '\u202eevil\u202c',
    ]),
  ];

  it.each(hostileNames)('saves the name %j and shows it HTML-escaped everywhere', async (name) => {
    const user = await signUpFromLoopback(t);
    const response = await user.browser.submit('/account', '/account', { name, website: '' });
    expect(response.status).toBe(303);
    expect((await userById(t, user.id))?.name).toBe(name.trim());

    const page = await user.browser.get('/account');
    expect(inputValue(page.text, 'name')).toBe(name.trim());
    const dashboard = await user.browser.get('/');
    for (const html of [page.text, dashboard.text]) {
      if (/[<>"'&]/.test(name)) expect(html).not.toContain(name.trim());
      expect(html).not.toContain('<script>alert');
      expect(html).not.toContain('<img src=x');
      expect(html).not.toContain('<b>bold');
    }
  });
});

// ---- email -------------------------------------------------------------------------

describe('changing the email address', () => {
  /** Asks for `newEmail` with the right password; the response. */
  const requestChange = (browser: Browser, newEmail: string, password = PASSWORD) =>
    browser.submit('/account/email', '/account/email', { email: newEmail, password });

  /** The newest mail of `template` to `to` delivered so far. */
  async function mailTo(to: string, template: string) {
    const mails = (await t.deliverMail()).filter((mail) => mail.to === to && mail.template === template);
    return mails.at(-1);
  }

  /** The path of the verification link mailed to `address`. */
  async function verifyLinkTo(address: string): Promise<string> {
    const mail = await mailTo(address, 'verify-email');
    const link = /\/email\/verify\?token=[A-Za-z0-9_-]+/.exec(mail?.text ?? '')?.[0];
    if (!link) throw new Error(`no verification link was mailed to ${address}`);
    return link;
  }

  it('shows the current address on the page, and a current-password field', async () => {
    const user = await signUpFromLoopback(t);
    const page = await user.browser.get('/account/email');
    expect(page.text).toContain(user.email);
    expect(inputTag(page.text, 'password')).toMatch(/type="password"/);
    expect(inputTag(page.text, 'password')).toMatch(/autocomplete="current-password"/);
  });

  it('with the right password: mails a link to the new address (lower-cased) and changes nothing until it is followed', async () => {
    const user = await signUpFromLoopback(t);
    const newEmail = uniqueEmail('moved');
    const response = await requestChange(user.browser, `  ${newEmail.toUpperCase()} `);
    expect(response.status).toBe(303);
    expect(response.headers['location']).toBe('/account/email');
    expect(response.text).not.toContain(PASSWORD);

    const page = await user.browser.get('/account/email');
    expect(flashesOn(page.text).join(' ')).toContain(newEmail);
    expect(page.text).not.toContain(PASSWORD);

    const state = await userById(t, user.id);
    expect(state?.email).toBe(user.email);
    expect(state?.pending_email).toBe(newEmail);
    expect(await loginStatus(new Browser(t.app), newEmail, PASSWORD)).toBe(422);
    expect(await loginStatus(new Browser(t.app), user.email, PASSWORD)).toBe(303);

    expect(await verifyLinkTo(newEmail)).toMatch(/^\/email\/verify\?token=/);
    expect(await mailTo(user.email, 'email-change-requested')).toBeDefined();
  });

  it('once the link is followed: the user logs in with the new address, not the old', async () => {
    const user = await signUpFromLoopback(t);
    const newEmail = uniqueEmail('confirmed');
    expect((await requestChange(user.browser, newEmail)).status).toBe(303);

    const followed = await followLink(user.browser, await verifyLinkTo(newEmail));
    expect(followed.status).toBe(303);
    const landing = await user.browser.get(followed.headers['location'] as string);
    expect(flashesOn(landing.text).join(' ')).toMatch(/confirmed/i);

    const state = await userById(t, user.id);
    expect(state?.email).toBe(newEmail);
    expect(state?.pending_email).toBeNull();
    expect((await user.browser.get('/')).text).toContain(newEmail);
    expect(await loginStatus(new Browser(t.app), newEmail, PASSWORD)).toBe(303);
    expect(await loginStatus(new Browser(t.app), user.email, PASSWORD)).toBe(422);
  });

  it('works once only: the same link a second time is refused with a 4xx and changes nothing', async () => {
    const user = await signUpFromLoopback(t);
    const newEmail = uniqueEmail('once');
    await requestChange(user.browser, newEmail);
    const link = await verifyLinkTo(newEmail);
    expect((await followLink(user.browser, link)).status).toBe(303);
    const before = await snapshot(t, user.id);
    const again = await followLink(user.browser, link);
    expect(again.status).toBeGreaterThanOrEqual(400);
    expect(again.status).toBeLessThan(500);
    expect(await snapshot(t, user.id)).toEqual(before);
  });

  it('keeps the user logged in, in this browser and in every other one, through the request and the link', async () => {
    const user = await signUpFromLoopback(t);
    const second = await loggedInBrowser(t.app, user.email);
    const sidsBefore = (await sessionRowsOf(t, user.id)).map((row) => row.sid);
    const newEmail = uniqueEmail('kept');
    expect((await requestChange(user.browser, newEmail)).status).toBe(303);
    expect(await isLoggedIn(second)).toBe(true);
    expect((await followLink(user.browser, await verifyLinkTo(newEmail))).status).toBe(303);

    expect(await isLoggedIn(user.browser)).toBe(true);
    expect(await isLoggedIn(second)).toBe(true);
    expect((await second.get('/')).text).toContain(newEmail);
    expect((await sessionRowsOf(t, user.id)).map((row) => row.sid).sort()).toEqual(sidsBefore.sort());
  });

  it('records email_change_requested, then email_changed, never with the password', async () => {
    const user = await signUpFromLoopback(t);
    const before = (await eventRowsOf(t, user.id)).length;
    const newEmail = uniqueEmail('audited');
    await requestChange(user.browser, newEmail);
    await followLink(user.browser, await verifyLinkTo(newEmail));
    const events = await newEventRowsOf(t, user.id, before);
    expect(events.map((row) => row.event)).toEqual(['email_change_requested', 'email_changed']);
    expect(events[0]?.detail).toContain(user.email);
    expect(events[0]?.detail).toContain(newEmail);
    expect(events[1]?.detail).toContain(newEmail);
    for (const row of events) expect(row.ip).toMatch(LOOPBACK);
    expect(JSON.stringify(events)).not.toContain(PASSWORD);
  });

  it('frees the old address once the change is confirmed: someone else can sign up with it', async () => {
    const user = await signUpFromLoopback(t);
    const newEmail = uniqueEmail();
    await requestChange(user.browser, newEmail);
    await followLink(user.browser, await verifyLinkTo(newEmail));
    const again = await signUpFromLoopback(t, { email: user.email });
    expect(again.id).not.toBe(user.id);
  });

  it('refuses the link when another account took the address meanwhile: a 4xx, both accounts unchanged', async () => {
    const user = await signUpFromLoopback(t);
    const contested = uniqueEmail('contested');
    await requestChange(user.browser, contested);
    const link = await verifyLinkTo(contested);
    const other = await signUpFromLoopback(t, { email: contested });
    const before = await snapshot(t, user.id);
    const otherBefore = await snapshot(t, other.id);

    const response = await followLink(user.browser, link);
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(await snapshot(t, user.id)).toEqual(before);
    expect(await snapshot(t, other.id)).toEqual(otherBefore);
    expect(await loginStatus(new Browser(t.app), user.email, PASSWORD)).toBe(303);
  });

  it('with a wrong password: 422, "That is not your current password.", nothing changed or mailed, recorded as login_failed', async () => {
    const user = await signUpFromLoopback(t);
    const before = await snapshot(t, user.id);
    const eventsBefore = (await eventRowsOf(t, user.id)).length;
    const newEmail = uniqueEmail('refused');
    const wrong = 'Wrong-Secret-8675309';

    const response = await requestChange(user.browser, newEmail, wrong);
    expect(response.status).toBe(422);
    expect(fieldError(response.text, 'password')).toBe(WRONG_PASSWORD);
    expect(inputValue(response.text, 'email')).toBe(newEmail);
    expect(response.text).not.toContain(wrong);
    expect(inputValue(response.text, 'password')).toBeUndefined();

    expect(await snapshot(t, user.id)).toEqual(before);
    const events = await newEventRowsOf(t, user.id, eventsBefore);
    expect(events.map((row) => row.event)).toEqual(['login_failed']);
    expect(events[0]?.detail ?? '').not.toContain(wrong);
    expect(await mailTo(newEmail, 'verify-email')).toBeUndefined();
    expect(await isLoggedIn(user.browser)).toBe(true);
  });

  it.each([
    ['the same case', (email: string) => email],
    ['upper case', (email: string) => email.toUpperCase()],
    ['mixed case', (email: string) => email.replace(/^./, (c) => c.toUpperCase()).replace('example', 'ExAmPlE')],
  ])(
    "refuses another user's address written in %s: 422, the taken message, nothing changed or mailed",
    async (_label, written) => {
      const other = await signUpFromLoopback(t);
      const user = await signUpFromLoopback(t);
      const before = await snapshot(t, user.id);
      const otherBefore = await snapshot(t, other.id);
      const mailsBefore = (await t.deliverMail()).length;

      const response = await requestChange(user.browser, written(other.email));
      expect(response.status).toBe(422);
      expect(fieldError(response.text, 'email')).toBe(EMAIL_TAKEN);
      expect(response.text).not.toContain(PASSWORD);
      expect(await snapshot(t, user.id)).toEqual(before);
      expect(await snapshot(t, other.id)).toEqual(otherBefore);
      expect((await t.deliverMail()).length).toBe(mailsBefore);
      expect(await loginStatus(new Browser(t.app), user.email, PASSWORD)).toBe(303);
    },
  );

  it('does not tell whether an address is taken before the password is checked', async () => {
    const other = await signUpFromLoopback(t);
    const user = await signUpFromLoopback(t);
    const response = await requestChange(user.browser, other.email, 'not my password at all');
    expect(response.status).toBe(422);
    expect(fieldError(response.text, 'password')).toBe(WRONG_PASSWORD);
    expect(fieldError(response.text, 'email')).toBeUndefined();
  });

  it.each([
    ['an empty password', { email: 'fresh@example.com', password: '' }, 'password', CURRENT_REQUIRED],
    ['an empty email', { email: '', password: PASSWORD }, 'email', 'Enter a valid email.'],
    ['an invalid email', { email: 'not-an-email', password: PASSWORD }, 'email', 'Enter a valid email.'],
    [
      'an email over 254 characters',
      { email: `${'x'.repeat(250)}@example.com`, password: PASSWORD },
      'email',
      'Enter a valid email.',
    ],
  ])('refuses %s with 422 and its message, nothing changed', async (_label, fields, field, message) => {
    const user = await signUpFromLoopback(t);
    const before = await snapshot(t, user.id);
    const response = await user.browser.submit('/account/email', '/account/email', fields);
    expect(response.status).toBe(422);
    expect(fieldError(response.text, field)).toBe(message);
    expect(response.text).not.toContain(PASSWORD);
    expect(await snapshot(t, user.id)).toEqual(before);
  });
});

// ---- password ----------------------------------------------------------------------

describe('changing the password', () => {
  it('with the right current password: a new session id here, every other session of the user ends, others untouched', async () => {
    const user = await signUpFromLoopback(t);
    const second = await loggedInBrowser(t.app, user.email);
    const third = await loggedInBrowser(t.app, user.email);
    const stranger = await signUpFromLoopback(t);
    const strangerSecond = await loggedInBrowser(t.app, stranger.email);
    const strangerBefore = await snapshot(t, stranger.id);
    const oldCookie = user.browser.sessionCookie();
    const oldSid = sidOf(user.browser);
    const hashBefore = (await userById(t, user.id))?.password_hash;

    const response = await user.browser.submit('/account/password', '/account/password', {
      current: PASSWORD,
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    expect(response.status).toBe(303);
    expect(response.headers['location']).toBe('/account');
    expect(response.text).not.toContain(NEW_PASSWORD);

    // This browser keeps working, under a new session id.
    const page = await user.browser.get('/account');
    expect(page.status).toBe(200);
    expect(flashesOn(page.text)).toContain(PASSWORD_CHANGED);
    expect(page.text).not.toContain(NEW_PASSWORD);
    expect(page.text).not.toContain(PASSWORD);
    expect(user.browser.sessionCookie()).toBeDefined();
    expect(user.browser.sessionCookie()).not.toBe(oldCookie);
    expect(sidOf(user.browser)).not.toBe(oldSid);
    expect(await isLoggedIn(user.browser)).toBe(true);

    // Whoever still holds the old cookie holds nothing.
    const replay = await request(t.app)
      .get('/')
      .set('Cookie', oldCookie ?? '');
    expectSentToLogin(replay, '/');
    expect((await t.pool.query('SELECT 1 FROM sessions WHERE sid = $1', [sidHash(oldSid)])).rowCount).toBe(0);

    // Every other browser of this user is logged out; the only session left is this one.
    expect(await isLoggedIn(second)).toBe(false);
    expect(await isLoggedIn(third)).toBe(false);
    expect((await sessionRowsOf(t, user.id)).map((row) => row.sid)).toEqual([sidHashOf(user.browser)]);

    // Another user's sessions are untouched.
    expect(await snapshot(t, stranger.id)).toEqual(strangerBefore);
    expect(await isLoggedIn(stranger.browser)).toBe(true);
    expect(await isLoggedIn(strangerSecond)).toBe(true);

    // The new password logs in, the old one does not; it is stored as a new bcrypt hash.
    const hashAfter = (await userById(t, user.id))?.password_hash;
    expect(hashAfter).toMatch(/^\$2b\$/);
    expect(hashAfter).not.toBe(hashBefore);
    expect(await loginStatus(new Browser(t.app), user.email, NEW_PASSWORD)).toBe(303);
    expect(await loginStatus(new Browser(t.app), user.email, PASSWORD)).toBe(422);
  });

  it('leaves the renewed session able to send forms (a fresh CSRF token)', async () => {
    const user = await signUpFromLoopback(t);
    await user.browser.submit('/account/password', '/account/password', {
      current: PASSWORD,
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    const saved = await user.browser.submit('/account', '/account', { name: 'After Change', website: '' });
    expect(saved.status).toBe(303);
    expect((await userById(t, user.id))?.name).toBe('After Change');
  });

  it('records password_changed and sessions_ended (with how many) in the audit trail', async () => {
    const user = await signUpFromLoopback(t);
    await loggedInBrowser(t.app, user.email);
    await loggedInBrowser(t.app, user.email);
    const before = (await eventRowsOf(t, user.id)).length;
    await user.browser.submit('/account/password', '/account/password', {
      current: PASSWORD,
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    const events = await newEventRowsOf(t, user.id, before);
    expect(events.map((row) => row.event)).toEqual(['password_changed', 'sessions_ended']);
    expect(events[1]?.detail).toMatch(/\b2\b/);
    for (const row of events) expect(row.ip).toMatch(LOOPBACK);
    expect(JSON.stringify(events)).not.toContain(NEW_PASSWORD);
    expect(JSON.stringify(events)).not.toContain(PASSWORD);
  });

  it('keeps "remember me" on the renewed session cookie', async () => {
    const user = await signUpFromLoopback(t);
    const remembered = new Browser(t.app);
    expect(
      (await remembered.submit('/login', '/login', { email: user.email, password: PASSWORD, remember: '1' })).status,
    ).toBe(303);
    const response = await remembered.submit('/account/password', '/account/password', {
      current: PASSWORD,
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    expect(response.status).toBe(303);
    const setCookie = sessionSetCookie(response);
    expect(setCookie).toMatch(/Expires=/i);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(await isLoggedIn(remembered)).toBe(true);
  });

  it('lists only the renewed session on the sessions page afterwards, marked as this browser', async () => {
    const user = await signUpFromLoopback(t);
    await loggedInBrowser(t.app, user.email);
    await user.browser.submit('/account/password', '/account/password', {
      current: PASSWORD,
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    const page = await user.browser.get('/account/sessions');
    expect(page.status).toBe(200);
    expect(page.text.match(/<li class="session/g)).toHaveLength(1);
    expect(page.text.match(/This browser/g)).toHaveLength(1);
  });

  it('with a wrong current password: 422 on that field, nothing changed, no session ended, recorded as login_failed', async () => {
    const user = await signUpFromLoopback(t);
    const second = await loggedInBrowser(t.app, user.email);
    const before = await snapshot(t, user.id);
    const eventsBefore = (await eventRowsOf(t, user.id)).length;
    const wrong = 'Wrong-Current-Secret-1';

    const response = await user.browser.submit('/account/password', '/account/password', {
      current: wrong,
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    expect(response.status).toBe(422);
    expect(fieldError(response.text, 'current')).toBe(WRONG_PASSWORD);
    expect(response.text).not.toContain(wrong);
    expect(response.text).not.toContain(NEW_PASSWORD);

    expect(await snapshot(t, user.id)).toEqual(before);
    expect(await isLoggedIn(second)).toBe(true);
    expect((await newEventRowsOf(t, user.id, eventsBefore)).map((row) => row.event)).toEqual(['login_failed']);
    expect(await loginStatus(new Browser(t.app), user.email, PASSWORD)).toBe(303);
  });

  const rules: Array<[string, Record<string, string>, string, string | RegExp]> = [
    [
      'a new password under 8 characters',
      { password: 'short1', confirm: 'short1' },
      'password',
      'Select a stronger password.',
    ],
    ['an empty new password', { password: '', confirm: '' }, 'password', 'Select a stronger password.'],
    ['a common password', { password: 'password123', confirm: 'password123' }, 'password', /too common/],
    [
      'a new password over 72 bytes (37 two-byte letters)',
      { password: 'é'.repeat(37), confirm: 'é'.repeat(37) },
      'password',
      /72 bytes/,
    ],
    [
      'a new password with a NUL character',
      { password: 'long enough\u0000tail', confirm: 'long enough\u0000tail' },
      'password',
      /NUL/,
    ],
    [
      'a confirmation that differs',
      { password: NEW_PASSWORD, confirm: `${NEW_PASSWORD}!` },
      'confirm',
      'Passwords must match.',
    ],
    ['a new password the same as the current one', { password: PASSWORD, confirm: PASSWORD }, 'password', /different/],
    [
      'an empty current password',
      { current: '', password: NEW_PASSWORD, confirm: NEW_PASSWORD },
      'current',
      CURRENT_REQUIRED,
    ],
  ];

  it.each(rules)('refuses %s with 422 and its message, nothing changed', async (_label, fields, field, message) => {
    const user = await signUpFromLoopback(t);
    const second = await loggedInBrowser(t.app, user.email);
    const before = await snapshot(t, user.id);

    const response = await user.browser.submit('/account/password', '/account/password', {
      current: PASSWORD,
      ...fields,
    });
    expect(response.status).toBe(422);
    if (typeof message === 'string') expect(fieldError(response.text, field)).toBe(message);
    else expect(fieldError(response.text, field)).toMatch(message);
    for (const name of ['current', 'password', 'confirm']) expect(inputValue(response.text, name)).toBeUndefined();
    for (const secret of [PASSWORD, NEW_PASSWORD, fields['password'] ?? '']) {
      if (secret.length >= 8) expect(response.text).not.toContain(secret);
    }

    expect(await snapshot(t, user.id)).toEqual(before);
    expect(await isLoggedIn(second)).toBe(true);
    expect(await loginStatus(new Browser(t.app), user.email, PASSWORD)).toBe(303);
  });

  it('accepts a passphrase of exactly 72 bytes', async () => {
    const user = await signUpFromLoopback(t);
    const exact = `${'é'.repeat(30)}${'x'.repeat(12)}`;
    expect(Buffer.byteLength(exact)).toBe(72);
    const response = await user.browser.submit('/account/password', '/account/password', {
      current: PASSWORD,
      password: exact,
      confirm: exact,
    });
    expect(response.status).toBe(303);
    expect(await loginStatus(new Browser(t.app), user.email, exact)).toBe(303);
  });
});

// ---- delete -------------------------------------------------------------------------

describe('deleting the account', () => {
  it('with the password and the box ticked: the user and all their sessions are gone, and they land on /login with a flash', async () => {
    const user = await signUpFromLoopback(t);
    const second = await loggedInBrowser(t.app, user.email);
    const stranger = await signUpFromLoopback(t);
    const strangerBefore = await snapshot(t, stranger.id);

    const response = await user.browser.submit('/account/delete', '/account/delete', {
      password: PASSWORD,
      confirm: '1',
    });
    expect(response.status).toBe(303);
    expect(response.headers['location']).toBe('/login');
    const login = await user.browser.get('/login');
    expect(login.status).toBe(200);
    expect(flashesOn(login.text)).toContain(DELETED);

    expect(await userById(t, user.id)).toBeUndefined();
    expect(await sessionRowsOf(t, user.id)).toEqual([]);
    expect((await t.pool.query("SELECT 1 FROM sessions WHERE sess ->> 'userId' = $1", [user.id])).rowCount).toBe(0);
    expect(await isLoggedIn(user.browser)).toBe(false);
    expect(await isLoggedIn(second)).toBe(false);

    expect(await loginStatus(new Browser(t.app), user.email, PASSWORD)).toBe(422);
    expect(await snapshot(t, stranger.id)).toEqual(strangerBefore);
    expect(await isLoggedIn(stranger.browser)).toBe(true);
  });

  it('lets the same email sign up again afterwards, as a new user', async () => {
    const user = await signUpFromLoopback(t);
    await user.browser.submit('/account/delete', '/account/delete', { password: PASSWORD, confirm: '1' });
    const again = await signUpFromLoopback(t, { email: user.email });
    expect(again.id).not.toBe(user.id);
    expect(await isLoggedIn(again.browser)).toBe(true);
  });

  it('records account_deleted, and the audit trail keeps the user id of every earlier event', async () => {
    const user = await signUpFromLoopback(t);
    const before = await eventRowsOf(t, user.id);
    expect(before.map((row) => row.event)).toContain('signup');
    await user.browser.submit('/account/delete', '/account/delete', { password: PASSWORD, confirm: '1' });
    const after = await eventRowsOf(t, user.id);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.slice(before.length).map((row) => row.event)).toEqual(['account_deleted']);
    expect(after.at(-1)?.user_id).toBe(user.id);
    expect(after.at(-1)?.ip).toMatch(LOOPBACK);
  });

  it.each([
    ['no password', { confirm: '1' }, 'password', CURRENT_REQUIRED],
    ['an empty password', { password: '', confirm: '1' }, 'password', CURRENT_REQUIRED],
    ['the box left unticked (no confirm field)', { password: PASSWORD }, 'confirm', CONFIRM_DELETE],
    ['the box sent empty', { password: PASSWORD, confirm: '' }, 'confirm', CONFIRM_DELETE],
    ['a wrong password', { password: 'Wrong-Secret-Delete-1', confirm: '1' }, 'password', WRONG_PASSWORD],
  ])('with %s: 422 with its message, nothing deleted', async (_label, fields, field, message) => {
    const user = await signUpFromLoopback(t);
    const second = await loggedInBrowser(t.app, user.email);
    const before = await snapshot(t, user.id);

    const response = await user.browser.submit('/account/delete', '/account/delete', fields);
    expect(response.status).toBe(422);
    expect(fieldError(response.text, field)).toBe(message);
    expect(response.text).not.toContain(PASSWORD);
    expect(response.text).not.toContain('Wrong-Secret-Delete-1');
    expect(inputValue(response.text, 'password')).toBeUndefined();

    expect(await snapshot(t, user.id)).toEqual(before);
    expect(await isLoggedIn(user.browser)).toBe(true);
    expect(await isLoggedIn(second)).toBe(true);
  });

  it('shows both errors when the password and the box are both missing', async () => {
    const { browser } = await signUpFromLoopback(t);
    const response = await browser.submit('/account/delete', '/account/delete', {});
    expect(response.status).toBe(422);
    expect(fieldsWithErrors(response.text).sort()).toEqual(['confirm', 'password']);
  });

  it('records a wrong password as login_failed', async () => {
    const user = await signUpFromLoopback(t);
    const before = (await eventRowsOf(t, user.id)).length;
    await user.browser.submit('/account/delete', '/account/delete', { password: 'not it at all', confirm: '1' });
    expect((await newEventRowsOf(t, user.id, before)).map((row) => row.event)).toEqual(['login_failed']);
  });
});

// ---- deactivated users ---------------------------------------------------------------

describe('a user deactivated while logged in', () => {
  it.each(PAGES)('is logged out on their next GET %s', async (page) => {
    const user = await signUpFromLoopback(t);
    await t.pool.query('UPDATE users SET is_active = false WHERE id = $1', [user.id]);
    expectSentToLogin(await user.browser.get(page), page);
    // Reactivated, the old session still does not come back.
    await t.pool.query('UPDATE users SET is_active = true WHERE id = $1', [user.id]);
    expect(await isLoggedIn(user.browser)).toBe(false);
  });

  it.each(FORMS.map((form) => [form.action, form] as const))(
    'is logged out on a POST %s with a token from before, and nothing changes',
    async (_action, form) => {
      const user = await signUpFromLoopback(t);
      const second = await loggedInBrowser(t.app, user.email);
      const sessionId = await sessionIdOf(t, second);
      const _csrf = await user.browser.csrfFrom(form.page);
      await t.pool.query('UPDATE users SET is_active = false WHERE id = $1', [user.id]);
      const before = await userById(t, user.id);
      const eventsBefore = (await eventRowsOf(t, user.id)).length;

      const response = await user.browser.agent
        .post(form.action)
        .type('form')
        .send({ _csrf, ...form.fields({ sessionId }) });
      expectSentToLogin(response);
      expect(await userById(t, user.id)).toEqual(before);
      expect(await newEventRowsOf(t, user.id, eventsBefore)).toEqual([]);
      expect((await t.pool.query('SELECT 1 FROM sessions WHERE sid = $1', [sidHashOf(second)])).rowCount).toBe(1);
    },
  );
});

// ---- throttling -----------------------------------------------------------------------

describe('password re-checks on the account pages count against the login limit (3 per account here)', () => {
  let limited: TestApp;
  beforeAll(async () => {
    limited = await t.sibling({ LOGIN_FAILURES_PER_ACCOUNT: '3' });
  });

  const wrongChange = (browser: Browser) =>
    browser.submit('/account/password', '/account/password', {
      current: 'wrong current password',
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });

  it('answers the fourth wrong current password on /account/password with 429 and Retry-After, and then refuses even the right one', async () => {
    const { browser, fields } = await signedUpBrowser(limited.app);
    const id = (await t.pool.query('SELECT id::text AS id FROM users WHERE email = $1', [fields.email])).rows[0].id;
    for (let i = 0; i < 3; i++) expect((await wrongChange(browser)).status).toBe(422);
    const blocked = await wrongChange(browser);
    expectCleanRefusal(blocked, 429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect(blocked.text).toMatch(/Try again in \d+ minutes?/);

    const hash = (await userById(t, id))?.password_hash;
    const right = await browser.submit('/account/password', '/account/password', {
      current: PASSWORD,
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    expect(right.status).toBe(429);
    expect((await userById(t, id))?.password_hash).toBe(hash);
    expect((await eventRowsOf(t, id)).map((row) => row.event)).toContain('throttled');
    expect(await isLoggedIn(browser)).toBe(true);
  });

  it('shares the count with the email and delete forms and with /login', async () => {
    const { browser, fields } = await signedUpBrowser(limited.app);
    expect((await wrongChange(browser)).status).toBe(422);
    expect(
      (await browser.submit('/account/email', '/account/email', { email: uniqueEmail(), password: 'wrong one here' }))
        .status,
    ).toBe(422);
    expect(
      (await browser.submit('/account/delete', '/account/delete', { password: 'wrong one here', confirm: '1' })).status,
    ).toBe(422);
    expect(
      (await browser.submit('/account/delete', '/account/delete', { password: PASSWORD, confirm: '1' })).status,
    ).toBe(429);
    // The same browser, logged out, is held at /login too (its device cookie keys the count).
    expect((await browser.submit('/', '/logout', {})).status).toBe(303);
    expect((await browser.submit('/login', '/login', { email: fields.email, password: PASSWORD })).status).toBe(429);
    expect((await t.pool.query('SELECT 1 FROM users WHERE email = $1', [fields.email])).rowCount).toBe(1);
  });

  it('clears the count after a right password', async () => {
    const { browser } = await signedUpBrowser(limited.app);
    for (let i = 0; i < 2; i++) expect((await wrongChange(browser)).status).toBe(422);
    const changed = await browser.submit('/account/password', '/account/password', {
      current: PASSWORD,
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    expect(changed.status).toBe(303);
    for (let i = 0; i < 3; i++) expect((await wrongChange(browser)).status).toBe(422);
  });

  it('does not count a form refused before any password check (a too-short new password)', async () => {
    const { browser } = await signedUpBrowser(limited.app);
    for (let i = 0; i < 5; i++) {
      const response = await browser.submit('/account/password', '/account/password', {
        current: 'wrong current password',
        password: 'short',
        confirm: 'short',
      });
      expect(response.status).toBe(422);
    }
    expect((await wrongChange(browser)).status).toBe(422);
  });
});

// ---- hostile input ---------------------------------------------------------------------

const HOSTILE = [
  ...new Set([
    ...badFields().map(([, value]) => value),
    '\u0000',
    'a\u0000b long enough',
    '<script>alert(1)</script>',
    '"><img src=x onerror=alert(1)>',
    "'; DROP TABLE users; --",
    '\r\nSet-Cookie: evil=1',
    '\u202e\u200b\ufeff',
    '😀'.repeat(40),
    'x'.repeat(5000),
    '%00%0d%0a',
    '../../etc/passwd',
    '{{ 7*7 }}',
    '   ',
  ]),
];

interface HostileForm {
  readonly page: string;
  readonly action: string;
  readonly field: string;
  /** The rest of a body that would succeed, given the user's current password. */
  readonly body: (value: string, current: string) => Record<string, string>;
}

const HOSTILE_FORMS: HostileForm[] = [
  { page: '/account', action: '/account', field: 'name', body: (v) => ({ name: v, website: '' }) },
  { page: '/account', action: '/account', field: 'website', body: (v) => ({ name: 'Ada', website: v }) },
  {
    page: '/account/email',
    action: '/account/email',
    field: 'email',
    body: (v, current) => ({ email: v, password: current }),
  },
  {
    page: '/account/email',
    action: '/account/email',
    field: 'password',
    body: (v) => ({ email: uniqueEmail(), password: v }),
  },
  {
    page: '/account/password',
    action: '/account/password',
    field: 'current',
    body: (v) => ({ current: v, password: NEW_PASSWORD, confirm: NEW_PASSWORD }),
  },
  {
    page: '/account/password',
    action: '/account/password',
    field: 'password',
    body: (v, current) => ({ current, password: v, confirm: v }),
  },
  {
    page: '/account/password',
    action: '/account/password',
    field: 'confirm',
    body: (v, current) => ({ current, password: NEW_PASSWORD, confirm: v }),
  },
  {
    page: '/account/delete',
    action: '/account/delete',
    field: 'password',
    body: (v) => ({ password: v, confirm: '1' }),
  },
  // A right password with any ticked value would delete the account: the wrong one keeps the user for the next value.
  {
    page: '/account/delete',
    action: '/account/delete',
    field: 'confirm',
    body: (v) => ({ password: 'not the password', confirm: v }),
  },
  { page: '/account/sessions', action: '/account/sessions/end', field: 'id', body: (v) => ({ id: v }) },
];

describe('hostile values in every account form field', () => {
  it.each(HOSTILE_FORMS.map((form) => [form.action, form.field, form] as const))(
    'POST %s with each hostile %s: never a 5xx, and a 4xx changes nothing',
    async (_action, _field, form) => {
      const user = await signUpFromLoopback(t);
      const second = await loggedInBrowser(t.app, user.email);
      let current = PASSWORD;
      const problems: string[] = [];

      for (const value of HOSTILE) {
        const before = await snapshot(t, user.id);
        const response = await user.browser.submit(form.page, form.action, form.body(value, current));
        const label = `${JSON.stringify(value.slice(0, 40))} → ${response.status}`;
        if (response.status >= 500) problems.push(`${label} (5xx)`);
        else if (response.status >= 400) {
          if (response.status !== 400 && response.status !== 413 && response.status !== 422)
            problems.push(`${label} (unexpected 4xx)`);
          const after = await snapshot(t, user.id);
          if (JSON.stringify(after) !== JSON.stringify(before)) problems.push(`${label} changed something`);
          if (/[<>]/.test(value) && response.text.includes(value)) problems.push(`${label} echoed unescaped`);
        } else if (response.status === 303 && form.action === '/account/password') current = value;
        if (!(await isLoggedIn(user.browser))) {
          problems.push(`${label} logged the user out`);
          break;
        }
      }
      expect(problems).toEqual([]);
      if (form.action !== '/account/password') expect(await isLoggedIn(second)).toBe(true);
    },
  );
});
