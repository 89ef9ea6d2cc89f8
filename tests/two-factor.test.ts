import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Browser, NEW_PASSWORD, PASSWORD } from './support/browser.js';
import { expectCleanRefusal, fieldError, flashesOn, isLoggedIn } from './support/pages.js';
import { eventRowsOf, logIn, signUp, uniqueIp, visitor } from './support/users.js';
import { mailMark, mailsAfter, openResetLink, resetLinkFor, waitForMailTo } from './support/mail.js';
import { type TestApp, TEST_SECRET, startTestApp } from './support/test-app.js';
import { awayFromStepEdge, base32Decode, keyOnPage, stepAt, totpCode } from './support/totp.js';
import { codesOnPage, enrolledUser, sendCode, sendRecoveryCode, toSecondStep } from './support/two-factor.js';

/**
 * The second factor (issue 13, the contract's "Second factor"): an authenticator app and
 * recovery codes, driven over HTTP the way a person with a phone does. Codes are computed by
 * the tests' own RFC 6238 code from the key the page shows.
 */

const CODE_DIDNT_WORK = "That code didn't work. Try the newest code from your app.";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ TRUST_PROXY: 'loopback' });
});
afterAll(async () => {
  await t.close();
});

describe('setting up the authenticator app', () => {
  it('shows an inline QR code, the key in groups of four and the otpauth URI; nothing is stored until confirmed', async () => {
    const user = await signUp(t);
    const page = await user.browser.get('/account/two-factor/totp');
    expect(page.status).toBe(200);
    const qr = /<img class="qr" src="([^"]+)"/.exec(page.text)?.[1] ?? '';
    expect(qr).toMatch(/^data:image\/svg\+xml;base64,/);
    expect(Buffer.from(qr.split(',')[1] ?? '', 'base64').toString('utf8')).toMatch(/^<svg /);
    expect(page.text).not.toMatch(/src="https?:/); // no request leaves the page
    const key = keyOnPage(page.text);
    expect(key).toMatch(/^[A-Z2-7]{4}( [A-Z2-7]{4}){7}$/); // 20 bytes: 32 characters
    expect(base32Decode(key)).toHaveLength(20);
    const uri = /<p class="otpauth"><code>([^<]+)<\/code>/.exec(page.text)?.[1]?.replaceAll('&amp;', '&') ?? '';
    const parsed = new URL(uri);
    expect(parsed.protocol).toBe('otpauth:');
    expect(parsed.host).toBe('totp');
    expect(decodeURIComponent(parsed.pathname)).toBe(`/Gatehouse:${user.email}`);
    expect(parsed.searchParams.get('secret')).toBe(key.replaceAll(' ', ''));
    expect(parsed.searchParams.get('issuer')).toBe('Gatehouse');
    expect(parsed.searchParams.get('digits') ?? '6').toBe('6');
    expect(parsed.searchParams.get('period') ?? '30').toBe('30');
    expect((parsed.searchParams.get('algorithm') ?? 'SHA1').toUpperCase()).toBe('SHA1');
    expect(page.headers['content-security-policy']).toContain("img-src 'self' data:");

    const { rows } = await t.pool.query('SELECT 1 FROM user_totp WHERE user_id = $1', [user.id]);
    expect(rows).toEqual([]);
    // Held in the session, sealed: neither the key nor its bytes are in the session row.
    const sessions = await t.pool.query<{ sess: string }>('SELECT sess::text FROM sessions WHERE user_id = $1', [
      user.id,
    ]);
    const raw = base32Decode(key);
    for (const { sess } of sessions.rows) {
      expect(sess).not.toContain(key.replaceAll(' ', ''));
      expect(sess).not.toContain(raw.toString('base64'));
      expect(sess).not.toContain(raw.toString('hex'));
    }
    // The same key on a reload, until it is confirmed.
    expect(keyOnPage((await user.browser.get('/account/two-factor/totp')).text)).toBe(key);
  });

  it('refuses a wrong code (422 next to the code) and a wrong password (422 next to the password), turning nothing on', async () => {
    const user = await signUp(t);
    const page = await user.browser.get('/account/two-factor/totp');
    const secret = base32Decode(keyOnPage(page.text));
    await awayFromStepEdge();
    const wrongCode = await user.browser.submit('/account/two-factor/totp', '/account/two-factor/totp', {
      code: totpCode(secret, stepAt() - 3),
      password: PASSWORD,
    });
    expect(wrongCode.status).toBe(422);
    expect(fieldError(wrongCode.text, 'code')).toBe(CODE_DIDNT_WORK);
    expect(keyOnPage(wrongCode.text)).toBe(keyOnPage(page.text));
    const wrongPassword = await user.browser.submit('/account/two-factor/totp', '/account/two-factor/totp', {
      code: totpCode(secret, stepAt()),
      password: 'not my password at all',
    });
    expect(wrongPassword.status).toBe(422);
    expect(fieldError(wrongPassword.text, 'password')).toBe('That is not your current password.');
    expect(wrongPassword.text).not.toContain('not my password at all');
    const { rows } = await t.pool.query('SELECT 1 FROM user_totp WHERE user_id = $1', [user.id]);
    expect(rows).toEqual([]);
    expect((await eventRowsOf(t, user.id)).map((row) => row.event)).toContain('login_failed');
  });

  it('with a current code and the password: on, ten recovery codes shown once with a .txt download, only hashes kept, a notice, the audit', async () => {
    const user = await signUp(t);
    const mark = await mailMark(t);
    const page = await user.browser.get('/account/two-factor/totp');
    const key = keyOnPage(page.text);
    const secret = base32Decode(key);
    await awayFromStepEdge();
    const done = await user.browser.submit('/account/two-factor/totp', '/account/two-factor/totp', {
      code: totpCode(secret, stepAt()),
      password: PASSWORD,
    });
    expect(done.status).toBe(200);
    const codes = codesOnPage(done.text);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(/^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){5}$/);
    const download =
      /<a [^>]*download="gatehouse-recovery-codes\.txt" href="data:text\/plain;charset=utf-8,([^"]+)"/.exec(
        done.text,
      )?.[1];
    expect(download).toBeDefined();
    const text = decodeURIComponent((download ?? '').replaceAll('&amp;', '&'));
    for (const code of codes) expect(text).toContain(code);
    expect(done.text).toContain('I have saved them');

    const stored = await t.pool.query<{ secret_sealed: Buffer; whole: string }>(
      'SELECT secret_sealed, row_to_json(user_totp)::text AS whole FROM user_totp WHERE user_id = $1',
      [user.id],
    );
    expect(stored.rows).toHaveLength(1);
    expect(stored.rows[0]!.secret_sealed.includes(secret)).toBe(false);
    expect(stored.rows[0]!.whole).not.toContain(key.replaceAll(' ', ''));
    const hashes = await t.pool.query<{ code_hash: Buffer }>(
      'SELECT code_hash FROM recovery_codes WHERE user_id = $1',
      [user.id],
    );
    expect(hashes.rows).toHaveLength(10);
    const allHashes = Buffer.concat(hashes.rows.map((row) => row.code_hash)).toString('latin1');
    for (const code of codes) {
      expect(allHashes).not.toContain(code);
      expect(allHashes).not.toContain(code.replaceAll('-', ''));
    }
    // Shown once: the security page has a count, never the codes.
    const security = await user.browser.get('/account/security');
    expect(security.text).toContain('10 of 10 left');
    for (const code of codes) expect(security.text).not.toContain(code);

    const notice = await waitForMailTo(t, user.email, 'security-change', mark);
    expect(notice.text).toMatch(/Two-step sign-in was turned on/);
    expect((await eventRowsOf(t, user.id)).map((row) => row.event)).toEqual(
      expect.arrayContaining(['totp_enabled', 'recovery_codes_generated']),
    );
    expect(t.logs.join('\n')).not.toContain(key.replaceAll(' ', ''));
    for (const code of codes) expect(t.logs.join('\n')).not.toContain(code);
  });

  it('needs a login: the pages and their forms send an anonymous visitor to /login', async () => {
    const anonymous = new Browser(t.app);
    for (const path of ['/account/security', '/account/two-factor/totp']) {
      const answer = await anonymous.get(path);
      expect(answer.status).toBe(302);
      expect(answer.headers['location']).toBe(`/login?next=${encodeURIComponent(path)}`);
    }
  });
});

describe('logging in with the app', () => {
  it('the right password gives no logged-in session, only the second step; a right code logs in on a new session id and goes to next', async () => {
    const user = await enrolledUser(t);
    const browser = visitor(t.app);
    const before = await browser.get('/login?next=%2Faccount%2Fsessions');
    expect(before.status).toBe(200);
    await toSecondStep(browser, user.email, PASSWORD, { next: '/account/sessions' });
    expect(await isLoggedIn(browser)).toBe(false);
    const pendingSid = browser.sessionCookie();
    expect(pendingSid).toBeDefined();
    const pending = await t.pool.query<{ pending: boolean; user_id: string }>(
      'SELECT pending, user_id::text AS user_id FROM sessions WHERE user_id = $1 AND pending',
      [user.id],
    );
    expect(pending.rows).toHaveLength(1);
    const page = await browser.get('/login/two-factor');
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/<input id="code" name="code" type="text" autocomplete="one-time-code"/);
    expect(page.text).toContain('href="/login/recovery-code"');
    // No passkey to offer: this user has none.
    expect(page.text).not.toContain('Use a passkey');

    await awayFromStepEdge();
    const mark = await mailMark(t);
    const done = await sendCode(browser, totpCode(user.secret, stepAt()));
    expect(done.status).toBe(303);
    expect(done.headers['location']).toBe('/account/sessions');
    expect(browser.sessionCookie()).not.toBe(pendingSid);
    expect(await isLoggedIn(browser)).toBe(true);
    // The new-sign-in notice, as after any login from a browser not seen before.
    await waitForMailTo(t, user.email, 'new-sign-in', mark);
    const events = (await eventRowsOf(t, user.id)).map((row) => `${row.event}:${row.detail ?? ''}`);
    expect(events).toContain('second_factor_required:password');
    expect(events).toContain('login:password + authenticator app');
  });

  it('a wrong password answers exactly as for any other user', async () => {
    const user = await enrolledUser(t);
    const withApp = await visitor(t.app).submit('/login', '/login', { email: user.email, password: 'wrong password!' });
    const plain = await signUp(t);
    const without = await visitor(t.app).submit('/login', '/login', {
      email: plain.email,
      password: 'wrong password!',
    });
    expect(withApp.status).toBe(422);
    expect(without.status).toBe(422);
    const normalise = (html: string, email: string) =>
      html.replaceAll(email, 'EMAIL').replace(/name="_csrf" value="[^"]*"/g, 'name="_csrf" value="T"');
    expect(normalise(withApp.text, user.email)).toBe(normalise(without.text, plain.email));
  });

  it('accepts a code once: the same code again is refused, in the same login or a new one', async () => {
    const user = await enrolledUser(t);
    await awayFromStepEdge();
    const code = totpCode(user.secret, stepAt());
    const first = visitor(t.app);
    await toSecondStep(first, user.email);
    expect((await sendCode(first, code)).status).toBe(303);

    const second = visitor(t.app);
    await toSecondStep(second, user.email);
    const again = await sendCode(second, code);
    expect(again.status).toBe(422);
    expect(fieldError(again.text, 'code')).toBe(CODE_DIDNT_WORK);
    expect(await isLoggedIn(second)).toBe(false);
  });

  it('accepts the previous step, refuses two steps ago and a future step', async () => {
    const user = await signUp(t);
    const page = await user.browser.get('/account/two-factor/totp');
    const secret = base32Decode(keyOnPage(page.text));
    await awayFromStepEdge();
    // Set up with a code three steps back is refused (only the current and previous step count)...
    const old = await user.browser.submit('/account/two-factor/totp', '/account/two-factor/totp', {
      code: totpCode(secret, stepAt() - 3),
      password: PASSWORD,
    });
    expect(old.status).toBe(422);
    // ...so set up with the current step's code; the login then tries older and newer steps.
    const done = await user.browser.submit('/account/two-factor/totp', '/account/two-factor/totp', {
      code: totpCode(secret, stepAt() - 1),
      password: PASSWORD,
    });
    expect(done.status).toBe(200);
    const browser = visitor(t.app);
    await toSecondStep(browser, user.email);
    await awayFromStepEdge();
    expect((await sendCode(browser, totpCode(secret, stepAt() - 2))).status).toBe(422);
    expect((await sendCode(browser, totpCode(secret, stepAt() + 1))).status).toBe(422);
    expect((await sendCode(browser, totpCode(secret, stepAt()))).status).toBe(303);
  });

  it('refuses a wrong code, and a code for a step before the last one used even inside the window', async () => {
    const user = await signUp(t);
    const page = await user.browser.get('/account/two-factor/totp');
    const secret = base32Decode(keyOnPage(page.text));
    await awayFromStepEdge(10_000);
    const step = stepAt();
    // Set up with the current step's code: that step is now the last one used.
    const done = await user.browser.submit('/account/two-factor/totp', '/account/two-factor/totp', {
      code: totpCode(secret, step),
      password: PASSWORD,
    });
    expect(done.status).toBe(200);
    const browser = visitor(t.app);
    await toSecondStep(browser, user.email);
    const wrong = await sendCode(browser, totpCode(secret, step + 7));
    expect(wrong.status).toBe(422);
    expect(fieldError(wrong.text, 'code')).toBe(CODE_DIDNT_WORK);
    // The previous step's code was never used, and the window takes it, but it is older than the last one used.
    const earlier = await sendCode(browser, totpCode(secret, step - 1));
    expect(earlier.status).toBe(422);
    expect(fieldError(earlier.text, 'code')).toBe(CODE_DIDNT_WORK);
    expect(await isLoggedIn(browser)).toBe(false);
  });

  it('follows only a safe next through the second step', async () => {
    for (const next of ['//evil.example/', 'https://evil.example/', '/\\evil.example']) {
      const user = await enrolledUser(t);
      const browser = visitor(t.app);
      await toSecondStep(browser, user.email, PASSWORD, { next });
      await awayFromStepEdge();
      const done = await sendCode(browser, totpCode(user.secret, stepAt()));
      expect(done.status, next).toBe(303);
      expect(done.headers['location'], next).toBe('/');
    }
  });

  it('of two logins racing with one code, exactly one gets in', async () => {
    const user = await enrolledUser(t);
    const a = visitor(t.app);
    const b = visitor(t.app);
    await toSecondStep(a, user.email);
    await toSecondStep(b, user.email);
    await awayFromStepEdge();
    const code = totpCode(user.secret, stepAt());
    const [csrfA, csrfB] = await Promise.all([a.csrfFrom('/login/two-factor'), b.csrfFrom('/login/two-factor')]);
    const answers = await Promise.all([
      a.agent.post('/login/two-factor').type('form').send({ _csrf: csrfA, code }),
      b.agent.post('/login/two-factor').type('form').send({ _csrf: csrfB, code }),
    ]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([303, 422]);
  });

  it('a pending login lasts 10 minutes: after that, back to /login', async () => {
    const user = await enrolledUser(t);
    const browser = visitor(t.app);
    await toSecondStep(browser, user.email);
    const csrf = await browser.csrfFrom('/login/two-factor');
    // Ten minutes pass (the session's clock is its own JSON, moved back here).
    await t.pool.query(
      `UPDATE sessions SET sess = (sess::jsonb || jsonb_build_object('loginInProgress',
         (sess::jsonb -> 'loginInProgress') || jsonb_build_object('startedAt', $2::bigint)))::json
        WHERE user_id = $1 AND pending`,
      [user.id, Date.now() - 10 * 60 * 1000 - 1000],
    );
    await awayFromStepEdge();
    const late = await browser.agent
      .post('/login/two-factor')
      .type('form')
      .send({ _csrf: csrf, code: totpCode(user.secret, stepAt()) });
    expect(late.status).toBe(303);
    expect(late.headers['location']).toBe('/login');
    expect(await isLoggedIn(browser)).toBe(false);
    const { rows } = await t.pool.query('SELECT 1 FROM sessions WHERE user_id = $1 AND pending', [user.id]);
    expect(rows).toEqual([]);
  });

  it('without a pending login the step sends the browser to /login, and a code alone logs nobody in', async () => {
    const user = await enrolledUser(t);
    const browser = visitor(t.app);
    expect((await browser.get('/login/two-factor')).headers['location']).toBe('/login');
    const csrf = await browser.csrfFrom('/login');
    await awayFromStepEdge();
    const answer = await browser.agent
      .post('/login/two-factor')
      .type('form')
      .send({ _csrf: csrf, code: totpCode(user.secret, stepAt()) });
    expect(answer.status).toBe(303);
    expect(answer.headers['location']).toBe('/login');
    expect(await isLoggedIn(browser)).toBe(false);
  });

  it('shows no pending login among "my sessions", and a password change ends the pending ones', async () => {
    const user = await enrolledUser(t);
    const attacker = visitor(t.app);
    await toSecondStep(attacker, user.email);
    const csrf = await attacker.csrfFrom('/login/two-factor');
    const page = await user.browser.get('/account/sessions');
    expect([...page.text.matchAll(/class="session[ "]/g)]).toHaveLength(1);
    await user.browser.submit('/account/password', '/account/password', {
      current: PASSWORD,
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    const { rows } = await t.pool.query('SELECT 1 FROM sessions WHERE user_id = $1 AND pending', [user.id]);
    expect(rows).toEqual([]);
    await awayFromStepEdge();
    const late = await attacker.agent
      .post('/login/two-factor')
      .type('form')
      .send({ _csrf: csrf, code: totpCode(user.secret, stepAt()) });
    // The pending session is gone, and its token with it: refused either way, and nobody logged in.
    expect([303, 403]).toContain(late.status);
    expect(await isLoggedIn(attacker)).toBe(false);
  });
});

describe('recovery codes', () => {
  it('work once: the user is told how many remain, is mailed a notice, and the same code again is refused', async () => {
    const user = await enrolledUser(t);
    const browser = visitor(t.app);
    await toSecondStep(browser, user.email);
    const mark = await mailMark(t);
    const used = await sendRecoveryCode(browser, user.codes[0]!.toUpperCase().replaceAll('-', ' '));
    expect(used.status).toBe(303);
    const home = await browser.get('/');
    expect(home.status).toBe(200);
    expect(flashesOn(home.text)).toEqual(['You have 9 recovery codes left.']);
    const notice = await waitForMailTo(t, user.email, 'security-change', mark);
    expect(notice.text).toMatch(/A recovery code was used/);
    expect(notice.text).toMatch(/9 codes are left/);
    expect((await eventRowsOf(t, user.id)).map((row) => row.event)).toContain('recovery_code_used');

    const again = visitor(t.app);
    await toSecondStep(again, user.email);
    const twice = await sendRecoveryCode(again, user.codes[0]!);
    expect(twice.status).toBe(422);
    expect(fieldError(twice.text, 'recovery_code')).toMatch(/didn't work/);
    expect(await isLoggedIn(again)).toBe(false);
  });

  it('offers new ones when few are left, and new ones replace the old', async () => {
    const user = await enrolledUser(t);
    for (const code of user.codes.slice(0, 7)) {
      const browser = visitor(t.app);
      await toSecondStep(browser, user.email);
      expect((await sendRecoveryCode(browser, code)).status).toBe(303);
    }
    const browser = visitor(t.app);
    await toSecondStep(browser, user.email);
    expect((await sendRecoveryCode(browser, user.codes[7]!)).status).toBe(303);
    const home = await browser.get('/');
    expect(flashesOn(home.text).join(' ')).toMatch(/2 recovery codes left\. Make new ones now/);
    expect((await browser.get('/account/security')).text).toMatch(/Few recovery codes are left/);

    const fresh = await browser.submit('/account/security', '/account/two-factor/recovery-codes', {
      password: PASSWORD,
    });
    expect(fresh.status).toBe(200);
    const newCodes = codesOnPage(fresh.text);
    expect(newCodes).toHaveLength(10);
    const next = visitor(t.app);
    await toSecondStep(next, user.email);
    expect((await sendRecoveryCode(next, user.codes[8]!)).status).toBe(422); // an old one: gone
    expect((await sendRecoveryCode(next, newCodes[0]!)).status).toBe(303);
  });

  it('new codes send a notice and are recorded', async () => {
    const user = await enrolledUser(t);
    const before = (await eventRowsOf(t, user.id)).length;
    const mark = await mailMark(t);
    const fresh = await user.browser.submit('/account/security', '/account/two-factor/recovery-codes', {
      password: PASSWORD,
    });
    expect(fresh.status).toBe(200);
    expect(codesOnPage(fresh.text)).toHaveLength(10);
    const notice = await waitForMailTo(t, user.email, 'security-change', mark);
    expect(notice.text).toMatch(/recovery codes/i);
    const events = (await eventRowsOf(t, user.id)).slice(before).map((row) => row.event);
    expect(events).toContain('recovery_codes_generated');
  });

  it('new codes need the right password', async () => {
    const user = await enrolledUser(t);
    const answer = await user.browser.submit('/account/security', '/account/two-factor/recovery-codes', {
      password: 'not the password',
    });
    expect(answer.status).toBe(422);
    expect(fieldError(answer.text, 'codes-password')).toBe('That is not your current password.');
    const { rows } = await t.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM recovery_codes WHERE user_id = $1',
      [user.id],
    );
    expect(rows[0]?.n).toBe(10);
  });
});

describe('limits on wrong codes, per user', () => {
  it('5 wrong codes, then 429 with Retry-After, also after a restarted login and from another network; the owner is mailed', async () => {
    const user = await enrolledUser(t);
    const mark = await mailMark(t);
    const browser = visitor(t.app);
    await toSecondStep(browser, user.email);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) statuses.push((await sendCode(browser, '000000')).status);
    expect(statuses).toEqual([422, 422, 422, 422, 422]);
    const sixth = await sendCode(browser, '000000');
    expectCleanRefusal(sixth, 429);
    const firstWait = Number(sixth.headers['retry-after']);
    expect(firstWait).toBeGreaterThan(14 * 60);
    expect(firstWait).toBeLessThanOrEqual(15 * 60);
    // A restarted login from elsewhere: still held, even with the right code, and recovery codes too.
    const elsewhere = visitor(t.app, uniqueIp());
    await toSecondStep(elsewhere, user.email);
    await awayFromStepEdge();
    expectCleanRefusal(await sendCode(elsewhere, totpCode(user.secret, stepAt())), 429);
    expectCleanRefusal(await sendRecoveryCode(elsewhere, user.codes[0]!), 429);
    const warnings = (await mailsAfter(t, mark)).filter(
      (mail) => mail.to === user.email && mail.template === 'second-factor-failed',
    );
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.text).toMatch(/wrong codes/);
    expect(
      (await eventRowsOf(t, user.id)).filter((row) => row.event === 'second_factor_failed').length,
    ).toBeGreaterThan(3);
  });

  it('the wait grows: once the first one is over, the next wrong code earns one twice as long', async () => {
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    try {
      const user = await enrolledUser(t);
      const browser = visitor(t.app);
      await toSecondStep(browser, user.email);
      for (let i = 0; i < 5; i += 1) await sendCode(browser, '111111');
      const first = Number((await sendCode(browser, '111111')).headers['retry-after']);
      // The first wait runs out; the login restarts (the pending one lasted 10 minutes).
      vi.setSystemTime(Date.now() + first * 1000 + 1000);
      const again = visitor(t.app);
      await toSecondStep(again, user.email);
      expect((await sendCode(again, '222222')).status).toBe(422);
      const second = await sendCode(again, '222222');
      expectCleanRefusal(second, 429);
      expect(Number(second.headers['retry-after'])).toBeGreaterThan(2 * first - 60);
    } finally {
      vi.useRealTimers();
    }
  });

  it('the third wrong code in a login mails the owner once, before any limit', async () => {
    const user = await enrolledUser(t);
    const mark = await mailMark(t);
    const browser = visitor(t.app);
    await toSecondStep(browser, user.email);
    for (let i = 0; i < 2; i += 1) await sendCode(browser, '999999');
    expect((await mailsAfter(t, mark)).filter((mail) => mail.template === 'second-factor-failed')).toEqual([]);
    await sendCode(browser, '999999');
    await sendCode(browser, '999999');
    const warnings = (await mailsAfter(t, mark)).filter((mail) => mail.template === 'second-factor-failed');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.to).toBe(user.email);
  });
});

describe('a password reset never logs a second-factor user in', () => {
  it('ends at the second step; the code then logs in', async () => {
    const user = await enrolledUser(t);
    const browser = visitor(t.app);
    await openResetLink(browser, await resetLinkFor(t, user.email, browser));
    const reset = await browser.submit('/password/reset', '/password/reset', {
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    expect(reset.status).toBe(303);
    expect(reset.headers['location']).toBe('/login/two-factor');
    expect(await isLoggedIn(browser)).toBe(false);
    await awayFromStepEdge();
    expect((await sendCode(browser, totpCode(user.secret, stepAt()))).status).toBe(303);
    expect(await isLoggedIn(browser)).toBe(true);
    // The new password is the one that works now.
    const other = visitor(t.app);
    expect((await logIn(other, user.email, NEW_PASSWORD)).headers['location']).toBe('/login/two-factor');
  });
});

describe('turning the app off', () => {
  it('needs the password; sends a notice, writes the audit, deletes the recovery codes; then a password alone logs in', async () => {
    const user = await enrolledUser(t);
    const wrong = await user.browser.submit('/account/security', '/account/two-factor/totp/disable', {
      password: 'not the password',
    });
    expect(wrong.status).toBe(422);
    expect(fieldError(wrong.text, 'disable-password')).toBe('That is not your current password.');
    const mark = await mailMark(t);
    const off = await user.browser.submit('/account/security', '/account/two-factor/totp/disable', {
      password: PASSWORD,
    });
    expect(off.status).toBe(303);
    expect(off.headers['location']).toBe('/account/security');
    const page = await user.browser.get('/account/security');
    expect(flashesOn(page.text)).toEqual(['Two-step sign-in with your authenticator app is off.']);
    const notice = await waitForMailTo(t, user.email, 'security-change', mark);
    expect(notice.text).toMatch(/turned off/);
    expect((await eventRowsOf(t, user.id)).map((row) => row.event)).toContain('totp_disabled');
    const { rows } = await t.pool.query('SELECT 1 FROM recovery_codes WHERE user_id = $1', [user.id]);
    expect(rows).toEqual([]);
    const login = await logIn(visitor(t.app), user.email);
    expect(login.headers['location']).toBe('/');
  });

  it('offers to sign out every other session after a change', async () => {
    const user = await signUp(t);
    await logIn(visitor(t.app), user.email);
    const page = await user.browser.get('/account/two-factor/totp');
    const secret = base32Decode(keyOnPage(page.text));
    await awayFromStepEdge();
    const done = await user.browser.submit('/account/two-factor/totp', '/account/two-factor/totp', {
      code: totpCode(secret, stepAt()),
      password: PASSWORD,
    });
    expect(done.text).toContain('action="/account/sessions/end-others"');
    expect(done.text).toMatch(/1 other session of your account is signed in/);
  });
});

describe('secrets at rest and rotation', () => {
  it('keeps working after SESSION_SECRET is rotated (the old secret listed after the new)', async () => {
    const user = await enrolledUser(t);
    const rotated = await t.sibling({ SESSION_SECRET: `a-brand-new-secret-of-enough-length-4242,${TEST_SECRET}` });
    const browser = new Browser(rotated.app);
    browser.agent.set('X-Forwarded-For', uniqueIp());
    await toSecondStep(browser, user.email);
    await awayFromStepEdge();
    expect((await sendCode(browser, totpCode(user.secret, stepAt()))).status).toBe(303);
  });
});
