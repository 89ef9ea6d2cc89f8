import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, PASSWORD, uniqueEmail } from './support/browser.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { corpus } from './support/corpus.js';
import { expectCleanRefusal, fieldError, flashesOn, isLoggedIn } from './support/pages.js';
import {
  TRUST_LOOPBACK,
  eventKindsOf,
  logIn,
  loginStatus,
  sha256,
  signUp,
  userByEmail,
  userById,
  visitor,
} from './support/users.js';
import {
  NOT_YOU,
  TOKEN_SHAPE,
  followLink,
  linkIn,
  mailMark,
  mailsAfter,
  pathOf,
  tokenOf,
  waitForMailTo,
} from './support/mail.js';
import { ORIGIN, RP_ID, addPasskey, signInOptions, signInWith } from './support/passkeys.js';
import { type TestApp, startTestApp } from './support/test-app.js';

const CONFIRMED = 'Your email address is confirmed.';
const CHANGED = 'Your new email address is confirmed: log in with it from now on.';
const BANNER = 'Confirm your email address';
const RESEND_SENT = 'If that address is waiting to be confirmed, we have sent a new link to it.';
const WRONG_PASSWORD = 'That is not your current password.';

/** The verification link in the newest 'verify-email' mail to `email` after `mark`. */
async function verifyLinkFor(t: TestApp, email: string, mark = 0): Promise<string> {
  return linkIn(await waitForMailTo(t, email, 'verify-email', mark), '/email/verify');
}

const hasBanner = (html: string) => html.includes('id="verify-heading"') && html.includes(BANNER);

/** Signs up and returns the member with the link their signup mailed. */
async function signUpWithLink(t: TestApp, options: { email?: string } = {}) {
  const mark = await mailMark(t);
  const user = await signUp(t, options);
  return { ...user, link: await verifyLinkFor(t, user.email, mark) };
}

// ---- the default app: verification is offered, not required ----------------------------

describe('address verification (REQUIRE_VERIFIED_EMAIL unset)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ ...TRUST_LOOPBACK });
  });
  afterAll(async () => {
    await t.close();
  });

  it('keeps the contract: signup is 303 to / and logged in, and an unverified user can log in', async () => {
    const user = await signUp(t);
    expect(user.response.headers['location']).toBe('/');
    expect(await isLoggedIn(user.browser)).toBe(true);
    expect((await userByEmail(t, user.email))?.email_verified_at).toBeNull();
    const login = await logIn(visitor(t.app), user.email);
    expect(login.status).toBe(303);
    expect(login.headers['location']).toBe('/');
  });

  it("mails a 'verify-email' link to the address at signup: a 43-character token, only its SHA-256 stored, for 2 days", async () => {
    const mark = await mailMark(t);
    const user = await signUp(t);
    const mail = await waitForMailTo(t, user.email, 'verify-email', mark);
    expect(mail.to).toBe(user.email);
    expect(mail.subject).toMatch(/confirm/i);
    // To an address that has not proven itself: nothing a visitor typed, so no name.
    expect(mail.text).not.toContain(user.name);
    expect(mail.text).toContain(NOT_YOU);
    const link = linkIn(mail, '/email/verify');
    expect(link.startsWith(`${t.config.publicUrl}/email/verify?token=`)).toBe(true);
    const token = tokenOf(link);
    expect(token).toMatch(TOKEN_SHAPE);
    expect(mail.html).toContain(link.replaceAll('&', '&amp;'));

    const { rows } = await t.pool.query<{ token_hash: Buffer; email: string; ttl: number; whole: string }>(
      `SELECT token_hash, email, extract(epoch FROM expires_at - created_at)::float8 AS ttl,
              row_to_json(account_tokens)::text AS whole
         FROM account_tokens WHERE user_id = $1 AND purpose = 'verify_email'`,
      [user.id],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.token_hash.equals(sha256(token))).toBe(true);
    expect(rows[0]!.email).toBe(user.email);
    expect(rows[0]!.ttl).toBeGreaterThan(48 * 3600 - 60);
    expect(rows[0]!.ttl).toBeLessThanOrEqual(48 * 3600 + 1);
    expect(rows[0]!.whole).not.toContain(token);
    expect(t.logs.join('\n')).not.toContain(token);
  });

  it('shows a banner with "Send the link again" on the dashboard until the address is verified', async () => {
    const user = await signUpWithLink(t);
    const before = await user.browser.get('/');
    expect(before.status).toBe(200);
    expect(hasBanner(before.text)).toBe(true);
    expect(before.text).toContain('action="/email/verify/send"');
    expect(before.text).toContain('Send the link again');

    const follow = await followLink(user.browser, user.link);
    expect(follow.status).toBe(303);
    expect(follow.headers['location']).toBe('/');
    expect(follow.headers['referrer-policy']).toBe('no-referrer');

    const after = await user.browser.get('/');
    expect(after.status).toBe(200);
    expect(flashesOn(after.text).some((text) => text.startsWith(CONFIRMED))).toBe(true);
    expect(hasBanner(after.text)).toBe(false);
    expect(after.text).not.toContain('Send the link again');
    expect((await userById(t, user.id))?.email_verified_at).toBeInstanceOf(Date);
    expect(await eventKindsOf(t, user.id)).toContain('email_verified');
    // Reloading the dashboard: the flash is gone, the banner stays gone.
    const again = await user.browser.get('/');
    expect(flashesOn(again.text)).toEqual([]);
    expect(hasBanner(again.text)).toBe(false);
  });

  it('works from a browser that is not logged in (303 to /login with the flash)', async () => {
    const user = await signUpWithLink(t);
    const browser = visitor(t.app);
    const follow = await followLink(browser, user.link);
    expect(follow.status).toBe(303);
    expect(follow.headers['location']).toBe('/login');
    const login = await browser.get('/login');
    expect(flashesOn(login.text).some((text) => text.startsWith(CONFIRMED))).toBe(true);
    expect((await userById(t, user.id))?.email_verified_at).toBeInstanceOf(Date);
  });

  it('works once: the same link again is a 400 page', async () => {
    const user = await signUpWithLink(t);
    expect((await followLink(user.browser, user.link)).status).toBe(303);
    const verifiedAt = (await userById(t, user.id))?.email_verified_at;
    const again = await followLink(user.browser, user.link);
    expectCleanRefusal(again, 400);
    expect(again.text).toContain('This link does not work');
    expect((await userById(t, user.id))?.email_verified_at).toEqual(verifiedAt);
    expect((await eventKindsOf(t, user.id)).filter((event) => event === 'email_verified')).toHaveLength(1);
  });

  it('of two clicks at once, one confirms and the other is a 400; the token never reaches the logs', async () => {
    const user = await signUpWithLink(t);
    const answers = await Promise.all([followLink(visitor(t.app), user.link), followLink(visitor(t.app), user.link)]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([303, 400]);
    expect((await eventKindsOf(t, user.id)).filter((event) => event === 'email_verified')).toHaveLength(1);
    expect(t.logs.join('\n')).not.toContain(tokenOf(user.link));
  });

  it('does not verify the address of an account deactivated after the link was sent', async () => {
    const user = await signUpWithLink(t);
    await t.pool.query('UPDATE users SET is_active = false WHERE id = $1', [user.id]);
    expectCleanRefusal(await followLink(visitor(t.app), user.link), 400);
    expect((await userById(t, user.id))?.email_verified_at).toBeNull();
  });

  it('expires after 2 days: an expired link is a 400 page and the address stays unverified', async () => {
    const user = await signUpWithLink(t);
    await t.pool.query("UPDATE account_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1", [
      sha256(tokenOf(user.link)),
    ]);
    const follow = await followLink(user.browser, user.link);
    expectCleanRefusal(follow, 400);
    expect(follow.text).toContain('action="/email/verify/send"'); // logged in: offers a new link
    expect((await userById(t, user.id))?.email_verified_at).toBeNull();
    expect(hasBanner((await user.browser.get('/')).text)).toBe(true);
  });

  it('"Send the link again" mails a new link and voids the old one', async () => {
    const user = await signUpWithLink(t);
    const mark = await mailMark(t);
    const send = await user.browser.submit('/', '/email/verify/send', {});
    expect(send.status).toBe(303);
    expect(send.headers['location']).toBe('/');
    const page = await user.browser.get('/');
    expect(flashesOn(page.text)).toContain(`We have sent a new link to ${user.email}.`);
    const newer = await verifyLinkFor(t, user.email, mark);
    expect(newer).not.toBe(user.link);

    expectCleanRefusal(await followLink(user.browser, user.link), 400);
    expect((await userById(t, user.id))?.email_verified_at).toBeNull();
    expect((await followLink(user.browser, newer)).status).toBe(303);
    expect((await userById(t, user.id))?.email_verified_at).toBeInstanceOf(Date);
  });

  it('sends nothing once the address is verified', async () => {
    const user = await signUpWithLink(t);
    await followLink(user.browser, user.link);
    const mark = await mailMark(t);
    const csrf = await user.browser.csrfFrom('/account/email');
    const send = await user.browser.agent.post('/email/verify/send').type('form').send({ _csrf: csrf });
    expect(send.status).toBe(303);
    expect(flashesOn((await user.browser.get('/')).text)).toContain('Your email address is already confirmed.');
    expect(await mailsAfter(t, mark, 100)).toEqual([]);
  });

  it('throttles "Send the link again": the 4th in an hour is a 429 with Retry-After', async () => {
    const user = await signUpWithLink(t);
    const mark = await mailMark(t);
    for (let i = 0; i < 3; i += 1) expect((await user.browser.submit('/', '/email/verify/send', {})).status).toBe(303);
    const fourth = await user.browser.submit('/', '/email/verify/send', {});
    expectCleanRefusal(fourth, 429);
    expect(Number(fourth.headers['retry-after'])).toBeGreaterThan(0);
    const sent = (await mailsAfter(t, mark)).filter((mail) => mail.to === user.email);
    expect(sent.map((mail) => mail.template)).toEqual(['verify-email', 'verify-email', 'verify-email']);
  });

  it('needs the CSRF token to send the link again', async () => {
    const user = await signUpWithLink(t);
    const mark = await mailMark(t);
    const send = await user.browser.agent.post('/email/verify/send').type('form').send({});
    expect(send.status).toBe(403);
    expect(await mailsAfter(t, mark, 100)).toEqual([]);
  });

  const junk = [...corpus('bad-next.txt'), 'x', randomBytes(32).toString('base64url'), 'a'.repeat(5000), ''];
  it.each(junk.map((value) => [value.length > 60 ? `${value.slice(0, 60)}…` : value, value]))(
    'an unknown or tampered token (%j) is a 4xx page, never a 5xx',
    async (_label, value) => {
      const response = await visitor(t.app).get(`/email/verify?token=${encodeURIComponent(value)}`);
      expectCleanRefusal(response);
    },
  );

  it.each(['/email/verify', '/email/verify?token[]=a', '/email/verify?token=a&token=b', '/email/verify?token=%ZZ'])(
    'a malformed query (%s) is a 4xx page, never a 5xx',
    async (path) => {
      expectCleanRefusal(await visitor(t.app).get(path));
    },
  );

  it('does not take a reset link token as a verification token', async () => {
    const user = await signUpWithLink(t);
    const mark = await mailMark(t);
    await visitor(t.app).submit('/password/forgot', '/password/forgot', { email: user.email });
    const reset = await waitForMailTo(t, user.email, 'password-reset', mark);
    const token = tokenOf(linkIn(reset, '/password/reset'));
    expectCleanRefusal(await visitor(t.app).get(`/email/verify?token=${token}`), 400);
    expect((await userById(t, user.id))?.email_verified_at).toBeNull();
  });

  // ---- changing the address -----------------------------------------------------------

  describe('changing the address from /account/email', () => {
    const requestChange = (browser: Browser, email: string, password = PASSWORD) =>
      browser.submit('/account/email', '/account/email', { email, password });

    it('needs the current password: a wrong one is a 422, nothing pending, no mail', async () => {
      const user = await signUpWithLink(t);
      const mark = await mailMark(t);
      const answer = await requestChange(user.browser, uniqueEmail('new'), 'not my password at all');
      expect(answer.status).toBe(422);
      expect(fieldError(answer.text, 'password')).toBe(WRONG_PASSWORD);
      expect((await userById(t, user.id))?.pending_email).toBeNull();
      expect(await mailsAfter(t, mark, 100)).toEqual([]);
    });

    it('only sets pending_email, mails the new address a link and the old one a notice, and switches once the link is followed', async () => {
      const user = await signUpWithLink(t);
      await followLink(user.browser, user.link); // the old address was verified
      const newEmail = uniqueEmail('moved');
      const mark = await mailMark(t);

      const answer = await requestChange(user.browser, newEmail.toUpperCase());
      expect(answer.status).toBe(303);
      expect(answer.headers['location']).toBe('/account/email');
      const page = await user.browser.get('/account/email');
      expect(flashesOn(page.text).join(' ')).toContain(newEmail);

      let row = await userById(t, user.id);
      expect(row?.email).toBe(user.email);
      expect(row?.pending_email).toBe(newEmail);
      expect(await loginStatus(visitor(t.app), user.email)).toBe(303);
      expect(await loginStatus(visitor(t.app), newEmail)).toBe(422);
      const dashboard = await user.browser.get('/');
      expect(hasBanner(dashboard.text)).toBe(true);
      expect(dashboard.text).toContain(newEmail);

      const notice = await waitForMailTo(t, user.email, 'email-change-requested', mark);
      expect(notice.text).toContain(newEmail);
      expect(notice.text).toContain(NOT_YOU);
      const verify = await waitForMailTo(t, newEmail, 'verify-email', mark);
      const link = linkIn(verify, '/email/verify');
      // (The logins above, from new browsers, got their own new-sign-in notices.)
      const sent = (await mailsAfter(t, mark, 100)).filter((mail) => mail.template !== 'new-sign-in');
      expect(sent.map((mail) => [mail.to, mail.template]).sort()).toEqual(
        [
          [newEmail, 'verify-email'],
          [user.email, 'email-change-requested'],
        ].sort(),
      );
      expect(await eventKindsOf(t, user.id)).toContain('email_change_requested');

      const follow = await followLink(user.browser, link);
      expect(follow.status).toBe(303);
      const after = await user.browser.get('/');
      expect(flashesOn(after.text)).toContain(CHANGED);
      expect(after.text).toContain(newEmail);
      expect(hasBanner(after.text)).toBe(false);

      row = await userById(t, user.id);
      expect(row?.email).toBe(newEmail);
      expect(row?.pending_email).toBeNull();
      expect(row?.email_verified_at).toBeInstanceOf(Date);
      expect(await eventKindsOf(t, user.id)).toContain('email_changed');
      expect(await loginStatus(visitor(t.app), newEmail)).toBe(303);
      expect(await loginStatus(visitor(t.app), user.email)).toBe(422);
      // The link is used up.
      expectCleanRefusal(await followLink(user.browser, link), 400);
    });

    it('voids a reset link mailed to the old address once the new one is confirmed', async () => {
      const user = await signUpWithLink(t);
      const stranger = visitor(t.app);
      let mark = await mailMark(t);
      expect((await stranger.submit('/password/forgot', '/password/forgot', { email: user.email })).status).toBe(200);
      const reset = linkIn(await waitForMailTo(t, user.email, 'password-reset', mark), '/password/reset');

      const newEmail = uniqueEmail('moved');
      mark = await mailMark(t);
      expect((await requestChange(user.browser, newEmail)).status).toBe(303);
      const link = linkIn(await waitForMailTo(t, newEmail, 'verify-email', mark), '/email/verify');
      expect((await followLink(user.browser, link)).status).toBe(303);

      await stranger.get(pathOf(reset));
      expectCleanRefusal(await stranger.get('/password/reset'), 400);
    });

    it('"Send the link again" while a change is pending sends to the new address', async () => {
      const user = await signUpWithLink(t);
      const newEmail = uniqueEmail('pending');
      expect((await requestChange(user.browser, newEmail)).status).toBe(303);
      const first = await verifyLinkFor(t, newEmail);
      const mark = await mailMark(t);
      const send = await user.browser.submit('/', '/email/verify/send', {});
      expect(send.status).toBe(303);
      const second = await verifyLinkFor(t, newEmail, mark);
      expect(second).not.toBe(first);
      expectCleanRefusal(await followLink(user.browser, first), 400);
      expect((await followLink(user.browser, second)).status).toBe(303);
      expect((await userById(t, user.id))?.email).toBe(newEmail);
    });

    it("the old address's own verification link no longer verifies it once a change is asked for", async () => {
      const user = await signUpWithLink(t);
      const newEmail = uniqueEmail('pending');
      expect((await requestChange(user.browser, newEmail)).status).toBe(303);
      await verifyLinkFor(t, newEmail);
      // The signup link was replaced by the link to the new address.
      expectCleanRefusal(await followLink(user.browser, user.link), 400);
      expect((await userById(t, user.id))?.email).toBe(user.email);
    });

    it('asking to keep the current address cancels the pending change, and its link then does nothing', async () => {
      const user = await signUpWithLink(t);
      const newEmail = uniqueEmail('cancelled');
      const mark = await mailMark(t);
      expect((await requestChange(user.browser, newEmail)).status).toBe(303);
      const link = await verifyLinkFor(t, newEmail, mark);
      expect((await requestChange(user.browser, user.email)).status).toBe(303);
      expect((await userById(t, user.id))?.pending_email).toBeNull();
      expectCleanRefusal(await followLink(user.browser, link), 400);
      expect((await userById(t, user.id))?.email).toBe(user.email);
    });

    it('refuses (409, no 5xx, nothing changed) when another account took the address before the link was followed', async () => {
      const user = await signUpWithLink(t);
      const wanted = uniqueEmail('contested');
      const mark = await mailMark(t);
      expect((await requestChange(user.browser, wanted)).status).toBe(303);
      const link = await verifyLinkFor(t, wanted, mark);

      const other = await signUp(t, { email: wanted });
      const before = await userById(t, user.id);
      const follow = await followLink(user.browser, link);
      expectCleanRefusal(follow, 409);
      const after = await userById(t, user.id);
      expect(after?.email).toBe(user.email);
      expect(after?.email_verified_at).toEqual(before?.email_verified_at);
      expect((await userById(t, other.id))?.email).toBe(wanted);
      expect(await eventKindsOf(t, user.id)).not.toContain('email_changed');
      expect(await loginStatus(visitor(t.app), user.email)).toBe(303);
      expect(await isLoggedIn(user.browser)).toBe(true);
    });
  });
});

// ---- REQUIRE_VERIFIED_EMAIL=true ----------------------------------------------------------

describe('REQUIRE_VERIFIED_EMAIL=true', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ ...TRUST_LOOPBACK, REQUIRE_VERIFIED_EMAIL: 'true' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('signup sends 303 to /login, does not log in, and the login page says a link was sent', async () => {
    const mark = await mailMark(t);
    const user = await signUp(t);
    expect(user.response.headers['location']).toBe('/login');
    const login = await user.browser.get('/login');
    expect(login.status).toBe(200);
    expect(flashesOn(login.text).join(' ')).toContain(`We have sent a link to ${user.email}`);
    expect(await isLoggedIn(user.browser)).toBe(false);
    const sessions = await t.pool.query('SELECT sid FROM sessions WHERE user_id = $1', [user.id]);
    expect(sessions.rowCount).toBe(0);
    await waitForMailTo(t, user.email, 'verify-email', mark);
  });

  it('a right password before verifying is a 403 page that explains and offers to send the link again', async () => {
    const user = await signUpWithLink(t);
    const browser = visitor(t.app);
    const login = await logIn(browser, user.email);
    expectCleanRefusal(login, 403);
    expect(login.text).toContain('Confirm your email address before you log in');
    expect(login.text).toMatch(/<form[^>]*action="\/email\/verify\/send"/);
    expect(login.text).toContain(`name="email" value="${user.email}"`);
    expect(await isLoggedIn(browser)).toBe(false);
    // A wrong password says nothing about verification.
    const wrong = await logIn(visitor(t.app), user.email, 'not the password at all');
    expect(wrong.status).toBe(422);
    expect(wrong.text).not.toContain('Confirm your email address');
  });

  it('a passkey before verifying is refused like a password: the same 403 page, and nobody logged in', async () => {
    const user = await signUpWithLink(t);
    expect((await followLink(visitor(t.app), user.link)).status).toBe(303);
    const owner = visitor(t.app);
    expect((await logIn(owner, user.email)).status).toBe(303);
    const authenticator = new SoftwareAuthenticator(ORIGIN, RP_ID);
    expect([200, 303]).toContain((await addPasskey(owner, authenticator)).status);
    // The address no longer counts as confirmed (as for an account from before the rule was on).
    await t.pool.query('UPDATE users SET email_verified_at = NULL WHERE id = $1', [user.id]);

    const browser = visitor(t.app);
    const { options, csrf } = await signInOptions(browser);
    const login = await signInWith(browser, csrf, authenticator.authenticate(options));
    expectCleanRefusal(login, 403);
    expect(login.text).toContain('Confirm your email address before you log in');
    expect(login.text).toMatch(/<form[^>]*action="\/email\/verify\/send"/);
    expect(login.text).toContain(`name="email" value="${user.email}"`);
    expect(await isLoggedIn(browser)).toBe(false);
  });

  it('the anonymous resend answers the same for any address and sends only to an unverified existing account', async () => {
    const waiting = await signUpWithLink(t);
    const verified = await signUpWithLink(t);
    expect((await followLink(visitor(t.app), verified.link)).status).toBe(303);
    const deactivated = await signUpWithLink(t);
    await t.pool.query('UPDATE users SET is_active = false WHERE id = $1', [deactivated.id]);
    const unknown = uniqueEmail('nobody');
    const mark = await mailMark(t);

    for (const email of [waiting.email, verified.email, deactivated.email, unknown]) {
      const browser = visitor(t.app);
      const send = await browser.submit('/login', '/email/verify/send', { email });
      expect(send.status).toBe(303);
      expect(send.headers['location']).toBe('/login');
      const page = await browser.get('/login');
      expect(flashesOn(page.text)).toEqual([RESEND_SENT]);
    }
    const newer = await verifyLinkFor(t, waiting.email, mark);
    const sent = await mailsAfter(t, mark);
    expect(sent.map((mail) => [mail.to, mail.template])).toEqual([[waiting.email, 'verify-email']]);
    // The new link replaced the signup one.
    expectCleanRefusal(await followLink(visitor(t.app), waiting.link), 400);
    expect((await followLink(visitor(t.app), newer)).status).toBe(303);
    expect(await loginStatus(visitor(t.app), waiting.email)).toBe(303);
  });

  it('the resend form on the 403 page works, and is throttled per address (4th → 429)', async () => {
    const user = await signUpWithLink(t);
    const browser = visitor(t.app);
    const login = await logIn(browser, user.email);
    expect(login.status).toBe(403);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(login.text)?.[1] ?? '';
    const mark = await mailMark(t);
    // Three from this browser's network (the fourth is refused); others elsewhere still get through.
    for (let i = 0; i < 3; i += 1) {
      const send = await browser.agent.post('/email/verify/send').type('form').send({ _csrf: csrf, email: user.email });
      expect(send.status).toBe(303);
    }
    const fourth = await browser.agent.post('/email/verify/send').type('form').send({ _csrf: csrf, email: user.email });
    expectCleanRefusal(fourth, 429);
    expect(Number(fourth.headers['retry-after'])).toBeGreaterThan(0);
    await verifyLinkFor(t, user.email, mark);
  });

  it('after following the link, login works', async () => {
    const user = await signUpWithLink(t);
    expect(await loginStatus(visitor(t.app), user.email)).toBe(403);
    const follow = await followLink(visitor(t.app), user.link);
    expect(follow.status).toBe(303);
    expect(follow.headers['location']).toBe('/login');
    const browser = visitor(t.app);
    const login = await logIn(browser, user.email);
    expect(login.status).toBe(303);
    expect(login.headers['location']).toBe('/');
    expect(await isLoggedIn(browser)).toBe(true);
  });

  it('a password reset proves the address: afterwards the user is logged in and can log in again', async () => {
    const user = await signUpWithLink(t);
    const mark = await mailMark(t);
    const browser = visitor(t.app);
    await browser.submit('/password/forgot', '/password/forgot', { email: user.email });
    const link = linkIn(await waitForMailTo(t, user.email, 'password-reset', mark), '/password/reset');
    expect((await followLink(browser, link)).status).toBe(303);
    const done = await browser.submit('/password/reset', '/password/reset', {
      password: 'a brand new passphrase 42',
      confirm: 'a brand new passphrase 42',
    });
    expect(done.status).toBe(303);
    expect(await isLoggedIn(browser)).toBe(true);
    expect(await loginStatus(visitor(t.app), user.email, 'a brand new passphrase 42')).toBe(303);
  });
});
