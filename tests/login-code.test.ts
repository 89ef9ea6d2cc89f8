import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { OutgoingMail } from '../src/mail/mail-transport.js';
import { uniqueEmail } from './support/browser.js';
import { expectCleanRefusal, fieldError, flashesOn, isLoggedIn } from './support/pages.js';
import { type Member, signUp, uniqueIp, userById, visitor } from './support/users.js';
import { mailMark, mailsAfter, waitForMailTo } from './support/mail.js';
import { type TestApp, sqlDuring, startTestApp } from './support/test-app.js';
import { awayFromStepEdge, stepAt, totpCode } from './support/totp.js';
import { enrolApp, sendCode } from './support/two-factor.js';
import type { Browser } from './support/browser.js';

/**
 * Sign in with a code by email (the contract's "Sign-in code by email"): a first factor, like a
 * password. Every browser comes through the trusted proxy from an address of its own.
 */

const CODE_LINE = /^([A-HJ-NP-Z2-9]{3})-([A-HJ-NP-Z2-9]{3})$/m;
const WAY_IN = 'Email me a sign-in code';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ TRUST_PROXY: 'loopback' });
});
afterAll(async () => {
  await t.close();
});
afterEach(() => {
  vi.useRealTimers();
});

/** Asks for a code to `email` from `browser`; expects the page where it is typed. */
async function askForCode(browser: Browser, email: string, extra: Record<string, string> = {}) {
  const answer = await browser.submit('/login/code', '/login/code', { email, ...extra });
  expect(answer.status).toBe(303);
  expect(answer.headers['location']).toBe('/login/code/enter');
  return answer;
}

/** The code in the newest sign-in mail to `email` after `mark`, as written there (XXX-XXX). */
async function codeMailedTo(email: string, mark: number): Promise<{ code: string; mail: OutgoingMail }> {
  const mail = await waitForMailTo(t, email, 'login-code', mark);
  const match = CODE_LINE.exec(mail.text);
  if (!match) throw new Error(`no code on a line of its own in:\n${mail.text}`);
  return { code: match[0], mail };
}

const enterCode = (browser: Browser, code: string) =>
  browser.submit('/login/code/enter', '/login/code/enter', { code });

async function codeFor(user: Pick<Member, 'email'>, browser: Browser = visitor(t.app, uniqueIp())) {
  const mark = await mailMark(t);
  await askForCode(browser, user.email);
  return { browser, ...(await codeMailedTo(user.email, mark)) };
}

/** A second browser holding the same code request (its cookie copied): what a stolen cookie would be. */
function copyOf(browser: Browser): Browser {
  const copy = visitor(t.app, uniqueIp());
  const cookies = browser.agent.jar.getCookies({
    domain: '127.0.0.1',
    path: '/login/code',
    secure: false,
    script: false,
  });
  for (const cookie of cookies) {
    copy.agent.jar.setCookie(`${cookie.name}=${cookie.value}; Path=${cookie.path}`, '127.0.0.1', '/');
  }
  return copy;
}

/** A member logged out of their signup browser, with an address not yet confirmed. */
async function loggedOutMember() {
  const user = await signUp(t);
  await user.browser.submit('/', '/logout', {});
  return user;
}

describe('asking for a code', () => {
  it('the login page links to it, keeping next; the page asks for an address', async () => {
    const page = await visitor(t.app).get('/login?next=%2Faccount%2Fsessions');
    expect(page.text).toContain(`<a href="/login/code?next=%2Faccount%2Fsessions">${WAY_IN}</a>`);
    const ask = await visitor(t.app).get('/login/code?next=%2Faccount%2Fsessions');
    expect(ask.status).toBe(200);
    expect(ask.text).toMatch(/<input type="hidden" name="next" value="\/account\/sessions">/);
    expect(ask.text).toMatch(/name="email"/);
  });

  it('answers the same, with the same statements, whether or not the address has an account; no session row', async () => {
    const user = await loggedOutMember();
    const nobody = uniqueEmail('nobody');
    const answers: Array<{ status: number; location: unknown; statements: string[] }> = [];
    for (const email of [user.email, nobody]) {
      const browser = visitor(t.app, uniqueIp());
      await browser.get('/login/code');
      let answer: Awaited<ReturnType<typeof askForCode>> | undefined;
      const statements = await sqlDuring(t, async () => {
        answer = await askForCode(browser, email);
      });
      answers.push({ status: answer?.status ?? 0, location: answer?.headers['location'], statements });
      const cookie = String(answer?.headers['set-cookie']);
      expect(cookie).toMatch(
        /gatehouse\.code=[^;]+; Max-Age=900; Path=\/login\/code; Expires=[^;]+; HttpOnly; SameSite=Lax/,
      );
      expect(browser.sessionCookie()).toBeUndefined();
      const page = await browser.get('/login/code/enter');
      expect(page.text).toContain(`If an account exists for ${email}, we have sent it a sign-in code.`);
    }
    expect(answers[0]).toEqual(answers[1]);
    const { rows } = await t.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM sessions WHERE user_id = $1', [
      user.id,
    ]);
    expect(rows[0]?.n).toBe(0);
    // Only the account's address gets mail.
    const mark = await mailMark(t);
    await codeMailedTo(user.email, 0);
    expect((await mailsAfter(t, mark)).filter((mail) => mail.to === nobody)).toEqual([]);
  });

  it('is limited like reset links: the fourth request for one address from one network is a 429', async () => {
    const user = await loggedOutMember();
    const ip = uniqueIp();
    for (let i = 0; i < 3; i += 1) await askForCode(visitor(t.app, ip), user.email);
    const fourth = await visitor(t.app, ip).submit('/login/code', '/login/code', { email: user.email });
    expectCleanRefusal(fourth, 429);
    expect(fourth.text).toMatch(/Too many requests for a sign-in code/);
  });

  it('a bad address is a 422 next to the field, and nothing is queued', async () => {
    const queued = async () =>
      (await t.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM mail_outbox')).rows[0]?.n;
    const before = await queued();
    const answer = await visitor(t.app).submit('/login/code', '/login/code', { email: 'not an address' });
    expect(answer.status).toBe(422);
    expect(fieldError(answer.text, 'email')).toBe('Enter a valid email.');
    expect(await queued()).toBe(before);
  });
});

describe('the code', () => {
  it('is mailed as XXX-XXX on a line of its own, and logs in with or without the dash, in any case', async () => {
    const user = await loggedOutMember();
    for (const typed of [(code: string) => code, (code: string) => code.replace('-', '').toLowerCase()]) {
      const { browser, code, mail } = await codeFor(user);
      expect(mail.subject).toBe('Your Gatehouse sign-in code');
      const done = await enterCode(browser, typed(code));
      expect(done.status).toBe(303);
      expect(done.headers['location']).toBe('/');
      expect(await isLoggedIn(browser)).toBe(true);
    }
    const { rows } = await t.pool.query<{ detail: string }>(
      "SELECT detail FROM auth_events WHERE user_id = $1 AND event = 'login' ORDER BY id",
      [user.id],
    );
    expect(rows.map((row) => row.detail)).toEqual(['email code', 'email code']);
  });

  it('proves the address, keeps next, and starts a new session id', async () => {
    const user = await loggedOutMember();
    expect((await userById(t, user.id))?.email_verified_at).toBeNull();
    const browser = visitor(t.app, uniqueIp());
    const mark = await mailMark(t);
    await askForCode(browser, user.email, { next: '/account/sessions' });
    const { code } = await codeMailedTo(user.email, mark);
    const done = await enterCode(browser, code);
    expect(done.headers['location']).toBe('/account/sessions');
    expect((await userById(t, user.id))?.email_verified_at).not.toBeNull();
  });

  it('works only in the browser that asked: another browser with a request of its own gets a 422', async () => {
    const user = await loggedOutMember();
    const { code } = await codeFor(user);
    const other = visitor(t.app, uniqueIp());
    await askForCode(other, user.email); // its own request, with a code of its own
    const refused = await enterCode(other, code);
    expect(refused.status).toBe(422);
    expect(await isLoggedIn(other)).toBe(false);
    // A browser that never asked is sent to ask.
    const stranger = visitor(t.app, uniqueIp());
    const sent = await stranger.get('/login/code/enter');
    expect(sent.status).toBe(303);
    expect(sent.headers['location']).toBe('/login/code');
  });

  it('works once', async () => {
    const user = await loggedOutMember();
    const { browser, code } = await codeFor(user);
    const copy = copyOf(browser);
    expect((await enterCode(browser, code)).status).toBe(303);
    const again = await enterCode(copy, code);
    expect(again.status).toBe(422);
    expect(fieldError(again.text, 'code')).toMatch(/expired, has been used/);
    expect(await isLoggedIn(copy)).toBe(false);
  });

  it('runs out after 15 minutes', async () => {
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    const user = await loggedOutMember();
    const { browser, code } = await codeFor(user);
    vi.setSystemTime(Date.now() + 14 * 60_000);
    // Still good at 14 minutes: a wrong try says "didn't work", not "expired".
    expect(fieldError((await enterCode(browser, 'AAA-AAA')).text, 'code')).toMatch(/didn't work/);
    const csrf = await browser.csrfFrom('/login/code/enter');
    vi.setSystemTime(Date.now() + 2 * 60_000);
    const late = await browser.agent.post('/login/code/enter').type('form').send({ _csrf: csrf, code });
    expect(late.status).toBe(303);
    expect(late.headers['location']).toBe('/login/code');
    expect(await isLoggedIn(browser)).toBe(false);
  });

  it('five wrong tries kill it, each recorded as a failed login; the right one is refused after', async () => {
    const user = await loggedOutMember();
    const { browser, code } = await codeFor(user);
    const copy = copyOf(browser);
    for (let i = 0; i < 4; i += 1) {
      const wrong = await enterCode(browser, 'ZZZ-ZZZ');
      expect(wrong.status).toBe(422);
      expect(fieldError(wrong.text, 'code')).toBe("That code didn't work. Type the code from the newest mail we sent.");
    }
    const fifth = await enterCode(browser, 'ZZZ-ZZZ');
    expect(fifth.status).toBe(422);
    expect(fieldError(fifth.text, 'code')).toMatch(/too many wrong tries/);
    // The same request, kept elsewhere, with the right code: dead.
    const late = await enterCode(copy, code);
    expect(late.status).toBe(422);
    expect(fieldError(late.text, 'code')).toMatch(/expired, has been used/);
    expect(await isLoggedIn(copy)).toBe(false);
    const { rows } = await t.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM auth_events WHERE user_id = $1 AND event = 'login_failed' AND detail = 'a wrong sign-in code'",
      [user.id],
    );
    expect(rows[0]?.n).toBe(5);
  });

  it('is a first factor: an account with an authenticator app goes on to the second step, next kept', async () => {
    const user = await signUp(t);
    const { secret } = await enrolApp(user.browser);
    await user.browser.submit('/', '/logout', {});
    const browser = visitor(t.app, uniqueIp());
    const mark = await mailMark(t);
    await askForCode(browser, user.email, { next: '/account/security' });
    const { code } = await codeMailedTo(user.email, mark);
    const answer = await enterCode(browser, code);
    expect(answer.status).toBe(303);
    expect(answer.headers['location']).toBe('/login/two-factor');
    expect(await isLoggedIn(browser)).toBe(false);
    await awayFromStepEdge();
    const done = await sendCode(browser, totpCode(secret, stepAt()));
    expect(done.headers['location']).toBe('/account/security');
    expect(await isLoggedIn(browser)).toBe(true);
  });
});

describe('LOGIN_BY_CODE=false', () => {
  it('takes the link off the login page, and the pages are not there', async () => {
    const off = await t.sibling({ LOGIN_BY_CODE: 'false' });
    const page = await visitor(off.app).get('/login');
    expect(page.text).not.toContain(WAY_IN);
    expect((await visitor(off.app).get('/login/code')).status).toBe(404);
    expect(flashesOn(page.text)).toEqual([]);
  });
});
