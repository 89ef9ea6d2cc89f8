import { randomBytes } from 'node:crypto';
import type { Response } from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, NEW_PASSWORD, PASSWORD, uniqueEmail } from './support/browser.js';
import { badFields, corpus } from './support/corpus.js';
import { expectCleanRefusal, fieldError, flashesOn, isLoggedIn } from './support/pages.js';
import {
  TRUST_LOOPBACK,
  eventKindsOf,
  logIn,
  loginStatus,
  sha256,
  signUp,
  uniqueIp,
  userById,
  visitor,
} from './support/users.js';
import {
  LINK_SENT,
  NOT_YOU,
  TOKEN_SHAPE,
  linkIn,
  mailMark,
  mailsAfter,
  openResetLink,
  resetLinkFor,
  tokenOf,
  waitForMailTo,
} from './support/mail.js';
import { type TestApp, startTestApp } from './support/test-app.js';

const RESET_DONE = 'Your password has been reset, and every other session of your account has been signed out.';

let t: TestApp;
beforeAll(async () => {
  // The contract's limit on links per network (30 an hour) is what one test here measures.
  t = await startTestApp({ ...TRUST_LOOPBACK, MAIL_LINKS_PER_IP: '' });
});
afterAll(async () => {
  await t.close();
});

/** Asks for a reset link for `email` from a browser (by default a new one with its own IP). */
const askForLink = (email: string, browser: Browser = visitor(t.app)) =>
  browser.submit('/password/forgot', '/password/forgot', { email });

/** Submits the reset form shown in `browser`. */
const setPassword = (browser: Browser, password: string, confirm = password) =>
  browser.submit('/password/reset', '/password/reset', { password, confirm });

/** Posts the reset form with a CSRF token taken earlier (while the form was still shown). */
const postForm = (browser: Browser, csrf: string, password: string) =>
  browser.agent.post('/password/reset').type('form').send({ _csrf: csrf, password, confirm: password });

// ---- asking for a link ---------------------------------------------------------------

describe('asking for a reset link (POST /password/forgot)', () => {
  it('shows a form with an email field and a CSRF token, linked from the login page', async () => {
    const browser = new Browser(t.app);
    const page = await browser.get('/password/forgot');
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/<form method="post" action="\/password\/forgot"/);
    expect(page.text).toMatch(/name="email"/);
    expect(page.text).toMatch(/name="_csrf" value="[^"]+"/);
    expect((await browser.get('/login')).text).toContain('href="/password/forgot"');
  });

  it('answers the same page and status for an existing, an unknown and a deactivated address; only the active account gets mail', async () => {
    const active = await signUp(t);
    const deactivated = await signUp(t);
    await t.pool.query('UPDATE users SET is_active = false WHERE id = $1', [deactivated.id]);
    const unknown = uniqueEmail('nobody');
    const mark = await mailMark(t);

    const answers = [];
    for (const email of [active.email, unknown, deactivated.email]) {
      const answer = await askForLink(email);
      expect(answer.status).toBe(200);
      expect(answer.text).toContain(LINK_SENT);
      answers.push(
        answer.text
          .replaceAll(email, 'EMAIL')
          .replace(/name="_csrf" value="[^"]*"/g, '')
          .replace(/nonce="[^"]*"/g, ''),
      );
    }
    expect(answers[1]).toBe(answers[0]);
    expect(answers[2]).toBe(answers[0]);

    const mail = await waitForMailTo(t, active.email, 'password-reset', mark);
    expect(mail.subject).toMatch(/reset/i);
    const after = await mailsAfter(t, mark);
    expect(after.map((m) => [m.to, m.template])).toEqual([[active.email, 'password-reset']]);
    const queued = await t.pool.query(
      "SELECT id FROM mail_outbox WHERE recipient = ANY($1) AND template = 'password-reset'",
      [[unknown, deactivated.email]],
    );
    expect(queued.rowCount).toBe(0);
    expect(await eventKindsOf(t, active.id)).toContain('password_reset_requested');
    expect(await eventKindsOf(t, deactivated.id)).not.toContain('password_reset_requested');
  });

  it('finds the account whatever the case and spaces of the address typed', async () => {
    const user = await signUp(t);
    const mark = await mailMark(t);
    expect((await askForLink(`  ${user.email.toUpperCase()} `)).status).toBe(200);
    const mail = await waitForMailTo(t, user.email, 'password-reset', mark);
    expect(mail.to).toBe(user.email);
  });

  it.each(badFields().filter(([field]) => field === 'email'))(
    'refuses an invalid address with 422 and says so (%s %j), sending nothing',
    async (_field, value) => {
      const mark = await mailMark(t);
      const answer = await askForLink(value);
      expect(answer.status).toBe(422);
      expect(fieldError(answer.text, 'email')).toBe('Enter a valid email.');
      expect(answer.text).not.toContain(LINK_SENT);
      expect(await mailsAfter(t, mark, 100)).toEqual([]);
    },
  );

  it('refuses an empty address with 422', async () => {
    const answer = await askForLink('');
    expect(answer.status).toBe(422);
    expect(fieldError(answer.text, 'email')).toBeTruthy();
  });

  it('needs the CSRF token: without it or with a wrong one, 403 and no mail', async () => {
    const user = await signUp(t);
    const mark = await mailMark(t);
    const browser = visitor(t.app);
    await browser.get('/password/forgot');
    const without = await browser.agent.post('/password/forgot').type('form').send({ email: user.email });
    expect(without.status).toBe(403);
    const wrong = await browser.agent
      .post('/password/forgot')
      .type('form')
      .send({ email: user.email, _csrf: 'not-the-token' });
    expect(wrong.status).toBe(403);
    // A token from another session does not do either.
    const other = await new Browser(t.app).csrfFrom('/password/forgot');
    const foreign = await browser.agent.post('/password/forgot').type('form').send({ email: user.email, _csrf: other });
    expect(foreign.status).toBe(403);
    expect(await mailsAfter(t, mark)).toEqual([]);
  });

  it.each([
    ['an unknown address', false],
    ['an existing address', true],
  ])(
    'throttles per address and network: the 4th request in an hour for %s from one network is a 429 with Retry-After',
    async (_label, exists) => {
      const email = exists ? (await signUp(t)).email : uniqueEmail('unknown');
      const mark = await mailMark(t);
      const browser = visitor(t.app);
      for (let i = 0; i < 3; i += 1) {
        const answer = await askForLink(i === 1 ? email.toUpperCase() : email, browser);
        expect(answer.status).toBe(200);
      }
      const fourth = await askForLink(email, browser);
      expectCleanRefusal(fourth, 429);
      const retryAfter = Number(fourth.headers['retry-after']);
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(3600);
      expect(fourth.text).not.toContain(LINK_SENT);
      // Another address is not held up by it.
      expect((await askForLink(uniqueEmail('other'))).status).toBe(200);
      if (exists) {
        await waitForMailTo(t, email, 'password-reset', mark);
        const sent = (await mailsAfter(t, mark)).filter((m) => m.to === email);
        expect(sent).toHaveLength(3);
      }
    },
  );

  it('throttles per IP: the 31st request from one address in an hour is a 429, others still get through', async () => {
    const ip = uniqueIp();
    const browser = visitor(t.app, ip);
    for (let i = 0; i < 30; i += 1) {
      expect((await askForLink(uniqueEmail('ip'), browser)).status).toBe(200);
    }
    const over = await askForLink(uniqueEmail('ip'), browser);
    expectCleanRefusal(over, 429);
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
    expect((await askForLink(uniqueEmail('ip'))).status).toBe(200);
  });
});

// ---- the link --------------------------------------------------------------------------

describe('the reset link', () => {
  it('carries a 43-character base64url token and leads to the reset page', async () => {
    const user = await signUp(t);
    const link = await resetLinkFor(t, user.email);
    expect(link.startsWith(`${t.config.publicUrl}/password/reset?token=`)).toBe(true);
    expect(tokenOf(link)).toMatch(TOKEN_SHAPE);
  });

  it('moves the token out of the URL (303 to /password/reset) and sends no Referer from either page', async () => {
    const user = await signUp(t);
    const link = await resetLinkFor(t, user.email);
    const token = tokenOf(link);
    const browser = visitor(t.app);
    const { first, page } = await openResetLink(browser, link);
    expect(first.headers['referrer-policy']).toBe('no-referrer');
    expect(page.status).toBe(200);
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.text).toMatch(/<form method="post" action="\/password\/reset"/);
    expect(page.text).toMatch(/name="password"/);
    expect(page.text).toMatch(/name="confirm"/);
    expect(page.text).toContain(user.email);
    expect(page.text).not.toContain(token);
    // The form page can be reloaded: showing it does not use the link up.
    expect((await browser.get('/password/reset')).status).toBe(200);
  });

  it('keeps only a SHA-256 of the token, for an hour, and never logs it', async () => {
    const user = await signUp(t);
    const link = await resetLinkFor(t, user.email);
    const token = tokenOf(link);
    const { rows } = await t.pool.query<{
      purpose: string;
      token_hash: Buffer;
      email: string;
      ttl_seconds: number;
      whole: string;
    }>(
      `SELECT purpose, token_hash, email, extract(epoch FROM expires_at - created_at)::float8 AS ttl_seconds,
              row_to_json(account_tokens)::text AS whole
         FROM account_tokens WHERE user_id = $1 AND purpose = 'password_reset'`,
      [user.id],
    );
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row.token_hash).toHaveLength(32);
    expect(row.token_hash.equals(sha256(token))).toBe(true);
    expect(row.email).toBe(user.email);
    expect(row.ttl_seconds).toBeGreaterThan(3600 - 60);
    expect(row.ttl_seconds).toBeLessThanOrEqual(3600 + 1);
    expect(row.whole).not.toContain(token);
    expect(row.whole).not.toContain(Buffer.from(token, 'base64url').toString('hex'));

    // Use the link all the way through, then look at everything the app logged.
    const browser = visitor(t.app);
    await openResetLink(browser, link);
    expect((await setPassword(browser, NEW_PASSWORD)).status).toBe(303);
    const logs = t.logs.join('\n');
    expect(logs).not.toContain(token);
    expect(logs).not.toContain(encodeURIComponent(token));
  });

  it('is sealed in the mail queue (not readable in mail_outbox.payload), and the payload is gone once sent', async () => {
    const user = await signUp(t);
    await t.deliverMail(); // the verification mail of the signup
    const answer = await askForLink(user.email);
    expect(answer.status).toBe(200);
    // The request queued a job (sealed too: it names the address); the worker turns it into the mail.
    const job = await t.pool.query<{ payload: Buffer | null }>(
      "SELECT payload FROM mail_outbox WHERE recipient = $1 AND template = 'password-reset-request'",
      [user.email],
    );
    expect(job.rows[0]?.payload).toBeInstanceOf(Buffer);
    expect(job.rows[0]!.payload!.toString('latin1')).not.toContain(user.email);
    await t.mailer.sendDue(); // the job: it queues the mail, which the next round sends
    const { rows } = await t.pool.query<{ id: string; payload: Buffer | null }>(
      "SELECT id::text AS id, payload FROM mail_outbox WHERE recipient = $1 AND template = 'password-reset'",
      [user.email],
    );
    const id = rows[0]?.id ?? '';
    const payload = rows[0]?.payload ?? null;
    expect(payload).not.toBeNull();
    const mail = await waitForMailTo(t, user.email, 'password-reset');
    const token = tokenOf(linkIn(mail, '/password/reset'));
    const raw = Buffer.from(token, 'base64url');
    expect(payload!.includes(Buffer.from(token))).toBe(false);
    expect(payload!.includes(raw)).toBe(false);
    expect(payload!.toString('latin1')).not.toContain(token);
    expect(payload!.toString('utf8')).not.toContain('/password/reset');
    const after = await t.pool.query<{ payload: Buffer | null; sent_at: Date | null }>(
      'SELECT payload, sent_at FROM mail_outbox WHERE id = $1',
      [id],
    );
    expect(after.rows[0]?.sent_at).not.toBeNull();
    expect(after.rows[0]?.payload).toBeNull();
  });
});

// ---- setting the password ------------------------------------------------------------

describe('setting a new password from the link', () => {
  it('uses the signup password rules (422 with messages) and a failed form does not use the link up', async () => {
    const user = await signUp(t);
    const link = await resetLinkFor(t, user.email);
    const browser = visitor(t.app);
    await openResetLink(browser, link);

    const short = await setPassword(browser, 'short');
    expect(short.status).toBe(422);
    expect(fieldError(short.text, 'password')).toBe('Select a stronger password.');
    expect(short.text).not.toContain('value="short"');

    const differ = await setPassword(browser, NEW_PASSWORD, `${NEW_PASSWORD}!`);
    expect(differ.status).toBe(422);
    expect(fieldError(differ.text, 'confirm')).toBe('Passwords must match.');

    const tooLong = 'é'.repeat(40);
    const long = await setPassword(browser, tooLong);
    expect(long.status).toBe(422);
    expect(fieldError(long.text, 'password')).toMatch(/72 bytes/);

    const empty = await setPassword(browser, '', '');
    expect(empty.status).toBe(422);
    expect(fieldError(empty.text, 'password')).toBeTruthy();

    // Nothing changed, and the link still works.
    expect(await loginStatus(visitor(t.app), user.email, PASSWORD)).toBe(303);
    expect((await setPassword(browser, NEW_PASSWORD)).status).toBe(303);
  });

  it('on success: 303 to /, logged in on a fresh session, every other session ended, the new password works, a notice is mailed, and it is audited', async () => {
    const user = await signUp(t); // user.browser stays logged in
    const second = visitor(t.app);
    expect((await logIn(second, user.email)).status).toBe(303);
    expect(await isLoggedIn(second)).toBe(true);

    const link = await resetLinkFor(t, user.email);
    const browser = visitor(
      t.app,
      uniqueIp(),
      'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
    );
    await openResetLink(browser, link);
    // Between the link and the form the browser holds no session: the token waits in a cookie of its own.
    expect(browser.sessionCookie()).toBeUndefined();
    const mark = await mailMark(t);

    const done = await setPassword(browser, NEW_PASSWORD);
    expect(done.status).toBe(303);
    expect(done.headers['location']).toBe('/');
    expect(done.headers['referrer-policy']).toBe('no-referrer');
    expect(browser.sessionCookie()).toBeDefined();

    const home = await browser.get('/');
    expect(home.status).toBe(200);
    expect(home.text).toContain(user.name);
    expect(flashesOn(home.text)).toContain(RESET_DONE);

    expect(await isLoggedIn(user.browser)).toBe(false);
    expect(await isLoggedIn(second)).toBe(false);
    const sessions = await t.pool.query('SELECT sid FROM sessions WHERE user_id = $1', [user.id]);
    expect(sessions.rowCount).toBe(1);

    expect(await loginStatus(visitor(t.app), user.email, PASSWORD)).toBe(422);
    expect(await loginStatus(visitor(t.app), user.email, NEW_PASSWORD)).toBe(303);
    expect((await userById(t, user.id))?.password_hash).toMatch(/^\$2b\$/);

    const notice = await waitForMailTo(t, user.email, 'password-changed', mark);
    expect(notice.subject).toMatch(/password was changed/i);
    expect(notice.text).toContain(NOT_YOU);
    expect(notice.text).toContain('/password/forgot');
    expect(await eventKindsOf(t, user.id)).toContain('password_reset');
    const left = await t.pool.query("SELECT id FROM account_tokens WHERE user_id = $1 AND purpose = 'password_reset'", [
      user.id,
    ]);
    expect(left.rowCount).toBe(0);
  });
});

// ---- single use, expiry, voiding --------------------------------------------------------

describe('a link that no longer works', () => {
  const expectDeadLinkPage = (page: Response) => {
    expectCleanRefusal(page, 400);
    expect(page.text).toContain('href="/password/forgot"');
    expect(page.text).toContain('Ask for a new link');
    expect(page.text).not.toMatch(/name="password"/);
  };

  it('works once: the same link again gives a 400 page with a link to ask for a new one', async () => {
    const user = await signUp(t);
    const link = await resetLinkFor(t, user.email);
    const browser = visitor(t.app);
    await openResetLink(browser, link);
    expect((await setPassword(browser, NEW_PASSWORD)).status).toBe(303);

    const again = visitor(t.app);
    const { page } = await openResetLink(again, link);
    expectDeadLinkPage(page);
    // Posting the form anyway changes nothing.
    const post = await again.submit('/password/forgot', '/password/reset', {
      password: 'yet another passphrase 7',
      confirm: 'yet another passphrase 7',
    });
    expectCleanRefusal(post, 400);
    expect(await loginStatus(visitor(t.app), user.email, NEW_PASSWORD)).toBe(303);
  });

  it('expires: a link past its time gives 400, and so does the form posted after it expired', async () => {
    const user = await signUp(t);
    const link = await resetLinkFor(t, user.email);
    const browser = visitor(t.app);
    const { page } = await openResetLink(browser, link);
    expect(page.status).toBe(200);
    const csrf = await browser.csrfFrom('/password/reset');
    await t.pool.query("UPDATE account_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1", [
      sha256(tokenOf(link)),
    ]);
    const post = await postForm(browser, csrf, NEW_PASSWORD);
    expectCleanRefusal(post, 400);
    expectDeadLinkPage(await browser.get('/password/reset'));
    expectDeadLinkPage((await openResetLink(visitor(t.app), link)).page);
    expect(await loginStatus(visitor(t.app), user.email, PASSWORD)).toBe(303);
  });

  it('is void once a newer link is sent', async () => {
    const user = await signUp(t);
    const older = await resetLinkFor(t, user.email);
    const newer = await resetLinkFor(t, user.email);
    expect(newer).not.toBe(older);
    expectDeadLinkPage((await openResetLink(visitor(t.app), older)).page);
    expect((await openResetLink(visitor(t.app), newer)).page.status).toBe(200);
  });

  it('is void once the password is changed on /account/password (which also mails a notice)', async () => {
    const user = await signUp(t);
    const link = await resetLinkFor(t, user.email);
    const mark = await mailMark(t);
    const change = await user.browser.submit('/account/password', '/account/password', {
      current: PASSWORD,
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    expect(change.status).toBe(303);
    expectDeadLinkPage((await openResetLink(visitor(t.app), link)).page);
    const notice = await waitForMailTo(t, user.email, 'password-changed', mark);
    expect(notice.text).toContain(NOT_YOU);
  });

  it('is void for a form already open when the password changes elsewhere', async () => {
    const user = await signUp(t);
    const link = await resetLinkFor(t, user.email);
    const browser = visitor(t.app);
    expect((await openResetLink(browser, link)).page.status).toBe(200);
    const csrf = await browser.csrfFrom('/password/reset');
    await user.browser.submit('/account/password', '/account/password', {
      current: PASSWORD,
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    expectCleanRefusal(await postForm(browser, csrf, 'the attacker passphrase 9'), 400);
    expect(await loginStatus(visitor(t.app), user.email, NEW_PASSWORD)).toBe(303);
  });

  it('does not work for an account deactivated after the link was sent', async () => {
    const user = await signUp(t);
    const link = await resetLinkFor(t, user.email);
    const browser = visitor(t.app);
    expect((await openResetLink(browser, link)).page.status).toBe(200);
    const csrf = await browser.csrfFrom('/password/reset');
    await t.pool.query('UPDATE users SET is_active = false WHERE id = $1', [user.id]);
    expectCleanRefusal(await postForm(browser, csrf, NEW_PASSWORD), 400);
    expectDeadLinkPage(await browser.get('/password/reset'));
    expect(await isLoggedIn(browser)).toBe(false);
    await t.pool.query('UPDATE users SET is_active = true WHERE id = $1', [user.id]);
    expect(await loginStatus(visitor(t.app), user.email, PASSWORD)).toBe(303);
  });

  it('leaves nothing usable in the session after a successful reset', async () => {
    const user = await signUp(t);
    const link = await resetLinkFor(t, user.email);
    const browser = visitor(t.app);
    await openResetLink(browser, link);
    expect((await setPassword(browser, NEW_PASSWORD)).status).toBe(303);
    expectDeadLinkPage(await browser.get('/password/reset'));
  });

  it('does not accept a verification link token as a reset token', async () => {
    const mark = await mailMark(t);
    const user = await signUp(t);
    const verify = await waitForMailTo(t, user.email, 'verify-email', mark);
    const token = tokenOf(linkIn(verify, '/email/verify'));
    expectDeadLinkPage((await openResetLink(visitor(t.app), `http://x/password/reset?token=${token}`)).page);
  });

  it('refuses a POST to /password/reset with no link opened', async () => {
    const browser = visitor(t.app);
    const post = await browser.submit('/password/forgot', '/password/reset', {
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    expectCleanRefusal(post, 400);
    expectDeadLinkPage(await browser.get('/password/reset'));
  });

  const junk = [
    ...corpus('bad-next.txt'),
    ...badFields().map(([, value]) => value),
    'x',
    randomBytes(32).toString('base64url'),
    'A'.repeat(43),
    `${'A'.repeat(42)}=`,
    'A'.repeat(44),
    'a'.repeat(5000),
    '%00',
    '',
  ];

  it.each(junk.map((value) => [value.length > 60 ? `${value.slice(0, 60)}…` : value, value]))(
    'an unknown or tampered token (%j) is a 4xx, never a 5xx',
    async (_label, value) => {
      const browser = visitor(t.app);
      const first = await browser.get(`/password/reset?token=${encodeURIComponent(value)}`);
      expect(first.status).toBeLessThan(500);
      expect([303, 400, 414, 431]).toContain(first.status);
      const page = await browser.get('/password/reset');
      expectCleanRefusal(page, 400);
    },
  );

  it.each([
    '/password/reset?token[]=a',
    '/password/reset?token=a&token=b',
    '/password/reset?token[a]=b',
    '/password/reset?token=%E0%A4%A',
    '/password/reset?token=%ZZ',
    '/password/reset?token',
  ])('a malformed query (%s) is a 4xx, never a 5xx', async (path) => {
    const browser = visitor(t.app);
    const first = await browser.get(path);
    expect(first.status).toBeLessThan(500);
    expect(first.status).toBeGreaterThanOrEqual(300);
    expectCleanRefusal(await browser.get('/password/reset'), 400);
  });

  it('a real token with one character changed does not work', async () => {
    const user = await signUp(t);
    const link = await resetLinkFor(t, user.email);
    const token = tokenOf(link);
    const tampered = `${token.slice(0, 10)}${token[10] === 'A' ? 'B' : 'A'}${token.slice(11)}`;
    expectDeadLinkPage((await openResetLink(visitor(t.app), `http://x/password/reset?token=${tampered}`)).page);
    expect((await openResetLink(visitor(t.app), link)).page.status).toBe(200);
  });

  it('a stale link in the session does not override a newly opened one, and an invalid one clears it', async () => {
    const user = await signUp(t);
    const link = await resetLinkFor(t, user.email);
    const browser = visitor(t.app);
    expect((await openResetLink(browser, link)).page.status).toBe(200);
    expectCleanRefusal((await openResetLink(browser, 'http://x/password/reset?token=junk')).page, 400);
  });

  it('of two POSTs at once with the same link, exactly one succeeds', async () => {
    const user = await signUp(t);
    const link = await resetLinkFor(t, user.email);
    const [a, b] = [visitor(t.app), visitor(t.app)];
    await openResetLink(a, link);
    await openResetLink(b, link);
    const [csrfA, csrfB] = [await a.csrfFrom('/password/reset'), await b.csrfFrom('/password/reset')];
    const passwords = ['first concurrent passphrase 1', 'second concurrent passphrase 2'] as const;
    const answers = await Promise.all([
      a.agent
        .post('/password/reset')
        .type('form')
        .send({ _csrf: csrfA, password: passwords[0], confirm: passwords[0] }),
      b.agent
        .post('/password/reset')
        .type('form')
        .send({ _csrf: csrfB, password: passwords[1], confirm: passwords[1] }),
    ]);
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([303, 400]);
    const winner = answers[0]!.status === 303 ? 0 : 1;
    expect(await loginStatus(visitor(t.app), user.email, passwords[winner]!)).toBe(303);
    expect(await loginStatus(visitor(t.app), user.email, passwords[1 - winner]!)).toBe(422);
    expect((await eventKindsOf(t, user.id)).filter((event) => event === 'password_reset')).toHaveLength(1);
  });
});
