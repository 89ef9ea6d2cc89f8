import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { NEW_PASSWORD, PASSWORD } from './support/browser.js';
import { expectCleanRefusal, isLoggedIn } from './support/pages.js';
import { logIn, signUp, uniqueIp, visitor } from './support/users.js';
import { mailMark, mailsAfter, openResetLink, resetLinkFor } from './support/mail.js';
import { type TestApp, startTestApp } from './support/test-app.js';
import { awayFromStepEdge, stepAt, totpCode } from './support/totp.js';
import { enrolledUser, sendCode, sendRecoveryCode, toSecondStep } from './support/two-factor.js';

/**
 * Issue 19: what someone who has the password (but not the second factor) can still do to the
 * owner. Every browser comes through the trusted proxy from an address of its own; the attacker
 * restarts the login from a new network whenever it helps them.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WRONG_CODE = '000000';
const WRONG = 'not the password at all';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ TRUST_PROXY: 'loopback', LOGIN_FAILURES_PER_ACCOUNT_TOTAL: '10' });
});
afterAll(async () => {
  await t.close();
});
afterEach(() => {
  vi.useRealTimers();
});

/** The app's clock (and the test's) from now on moves only when the test moves it, plus real time. */
const fakeClock = () => vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
const later = (ms: number) => vi.setSystemTime(Date.now() + ms);

/** The attacker: the right password from a new network and a new browser, then `code`. */
async function attackerTries(email: string, code = WRONG_CODE) {
  const browser = visitor(t.app, uniqueIp());
  await toSecondStep(browser, email);
  return sendCode(browser, code);
}

const warningsTo = async (email: string, mark: number) =>
  (await mailsAfter(t, mark)).filter((mail) => mail.to === email && mail.template === 'second-factor-failed');

/** The current code of the app, from a step not used before (the app accepts each step once). */
async function freshCode(secret: Buffer): Promise<string> {
  await awayFromStepEdge();
  return totpCode(secret, stepAt());
}

describe('paced code guessing', () => {
  it('two wrong codes per login, over fresh logins from new networks, mail the owner at the third in a day, once a day', async () => {
    fakeClock();
    const user = await enrolledUser(t);
    const mark = await mailMark(t);
    for (let login = 0; login < 2; login += 1) {
      const browser = visitor(t.app, uniqueIp());
      await toSecondStep(browser, user.email);
      expect((await sendCode(browser, WRONG_CODE)).status).toBe(422);
      if (login === 0) expect((await sendCode(browser, WRONG_CODE)).status).toBe(422);
      later(7 * MINUTE);
    }
    // Three wrong codes in three logins from three networks: the owner is told.
    const first = await warningsTo(user.email, mark);
    expect(first).toHaveLength(1);
    expect(first[0]?.text).toMatch(/wrong codes/);
    expect(first[0]?.text).toMatch(/at least three today/);
    expect(first[0]?.text).toMatch(/change it now/);

    // More the same day: no second mail.
    later(20 * MINUTE);
    expect((await attackerTries(user.email)).status).toBe(422);
    later(2 * HOUR);
    expect((await attackerTries(user.email)).status).toBe(422);
    expect(await warningsTo(user.email, mark)).toHaveLength(1);

    // A day later, three more are mailed again.
    later(DAY);
    for (let wrong = 0; wrong < 3;) {
      const answer = await attackerTries(user.email);
      if (answer.status === 429) later(Number(answer.headers['retry-after']) * 1000 + 1000);
      else {
        expect(answer.status).toBe(422);
        wrong += 1;
      }
    }
    expect(await warningsTo(user.email, mark)).toHaveLength(2);
  });

  it('waits start at the sixth wrong code in a row, however the guesses are spread, and double', async () => {
    fakeClock();
    const user = await enrolledUser(t);
    // Five wrong codes over three logins, a quarter of an hour apart: free.
    for (const codes of [2, 2, 1]) {
      const browser = visitor(t.app, uniqueIp());
      await toSecondStep(browser, user.email);
      for (let i = 0; i < codes; i += 1) expect((await sendCode(browser, WRONG_CODE)).status).toBe(422);
      later(16 * MINUTE);
    }
    // The sixth waits 15 minutes from the fifth (already past: one guess), the seventh 30 more...
    expect((await attackerTries(user.email)).status).toBe(422);
    const held = await attackerTries(user.email);
    expectCleanRefusal(held, 429);
    const wait = Number(held.headers['retry-after']);
    expect(wait).toBeGreaterThan(29 * 60);
    expect(wait).toBeLessThanOrEqual(30 * 60);
    // ...and the clock running on does not make the count forget.
    later(wait * 1000 + 1000);
    expect((await attackerTries(user.email)).status).toBe(422);
    const longer = Number((await attackerTries(user.email)).headers['retry-after']);
    expect(longer).toBeGreaterThan(59 * 60);
    expect(longer).toBeLessThanOrEqual(60 * 60);
  });
});

describe('the owner is not locked out by someone who has the password', () => {
  it("an attacker running the code limit out from other networks leaves the owner's browser signing in with the right code", async () => {
    const user = await enrolledUser(t);
    // The owner's laptop completed a login (at signup) and logs out.
    expect((await user.browser.submit('/', '/logout', {})).status).toBe(303);
    for (let i = 0; i < 5; i += 1) expect((await attackerTries(user.email)).status).toBe(422);
    expectCleanRefusal(await attackerTries(user.email), 429);
    // The attacker holding the right code now would still wait (from a browser the owner never used).
    const right = await freshCode(user.secret);
    expectCleanRefusal(await attackerTries(user.email, right), 429);

    await toSecondStep(user.browser, user.email);
    expect((await sendCode(user.browser, await freshCode(user.secret))).status).toBe(303);
    expect(await isLoggedIn(user.browser)).toBe(true);
  });

  it("the owner's recovery code works from their own browser too, and the attacker cannot spend that browser's guesses", async () => {
    const user = await enrolledUser(t);
    await user.browser.submit('/', '/logout', {});
    for (let i = 0; i < 8; i += 1) await attackerTries(user.email);
    await toSecondStep(user.browser, user.email);
    expect((await sendRecoveryCode(user.browser, user.codes[0]!)).status).toBe(303);
  });

  it('a password reset from a new browser clears the wait the attacker earned', async () => {
    const user = await enrolledUser(t);
    for (let i = 0; i < 6; i += 1) await attackerTries(user.email);
    expectCleanRefusal(await attackerTries(user.email), 429);

    const phone = visitor(t.app, uniqueIp());
    const link = await resetLinkFor(t, user.email, phone);
    await openResetLink(phone, link);
    const reset = await phone.submit('/password/reset', '/password/reset', {
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    expect(reset.status).toBe(303);
    expect(reset.headers['location']).toBe('/login/two-factor');
    expect((await sendCode(phone, await freshCode(user.secret))).status).toBe(303);
    expect(await isLoggedIn(phone)).toBe(true);
  });

  it('stops untrusted browsers at 100 wrong codes in a row, while the owner still gets in from their own', async () => {
    fakeClock();
    const user = await enrolledUser(t);
    await user.browser.submit('/', '/logout', {});
    let wrong = 0;
    while (wrong < 100) {
      const answer = await attackerTries(user.email);
      if (answer.status === 429) {
        expect(Number(answer.headers['retry-after'])).toBeLessThanOrEqual(24 * 3600);
        later(Number(answer.headers['retry-after']) * 1000 + 1000);
      } else {
        expect(answer.status).toBe(422);
        wrong += 1;
      }
    }
    later(2 * DAY);
    expectCleanRefusal(await attackerTries(user.email), 429);
    expectCleanRefusal(await attackerTries(user.email, await freshCode(user.secret)), 429);

    await toSecondStep(user.browser, user.email);
    expect((await sendCode(user.browser, await freshCode(user.secret))).status).toBe(303);
    // A right code starts the count again.
    later(MINUTE);
    expect((await attackerTries(user.email)).status).toBe(422);
  }, 120_000);
});

describe('device trust is earned by a whole login, and ends with the password', () => {
  /** Runs the account-wide cap out (10 here) with wrong passwords from browsers the account never saw. */
  async function runCapOut(email: string) {
    for (let i = 0; i < 10; i += 1) {
      expect((await visitor(t.app, uniqueIp()).submit('/login', '/login', { email, password: WRONG })).status).toBe(
        422,
      );
    }
  }

  it('a browser that stopped at the second step gets no device cookie and is held by the cap', async () => {
    const user = await enrolledUser(t);
    const halfway = visitor(t.app, uniqueIp());
    await toSecondStep(halfway, user.email);
    expect(
      halfway.agent.jar.getCookie('gatehouse.device', { domain: '127.0.0.1', path: '/', secure: false, script: false }),
    ).toBeUndefined();
    await runCapOut(user.email);
    expectCleanRefusal(await logIn(halfway, user.email), 429);
    // The owner's own browser, which completed a login, is not held.
    await user.browser.submit('/', '/logout', {});
    const owner = await logIn(user.browser, user.email);
    expect(owner.status).toBe(303);
    expect(owner.headers['location']).toBe('/login/two-factor');
  });

  it('browsers trusted before a password change are trusted no more; the one that changed it is', async () => {
    const user = await signUp(t);
    const oldLaptop = visitor(t.app, uniqueIp());
    expect((await logIn(oldLaptop, user.email)).status).toBe(303);
    await oldLaptop.submit('/', '/logout', {});

    const changed = await user.browser.submit('/account/password', '/account/password', {
      current: PASSWORD,
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    expect(changed.status).toBe(303);
    await user.browser.submit('/', '/logout', {});

    await runCapOut(user.email);
    expectCleanRefusal(await logIn(oldLaptop, user.email, NEW_PASSWORD), 429);
    expect((await logIn(user.browser, user.email, NEW_PASSWORD)).status).toBe(303);
  });

  it('a trusted browser that collected failures of its own is trusted no more', async () => {
    const user = await signUp(t);
    await user.browser.submit('/', '/logout', {});
    for (let i = 0; i < 5; i += 1) expect((await logIn(user.browser, user.email, WRONG)).status).toBe(422);
    await runCapOut(user.email);
    expectCleanRefusal(await logIn(user.browser, user.email), 429);

    // A browser with fewer of its own failures is still the owner's.
    const other = await signUp(t);
    await other.browser.submit('/', '/logout', {});
    for (let i = 0; i < 4; i += 1) expect((await logIn(other.browser, other.email, WRONG)).status).toBe(422);
    await runCapOut(other.email);
    expect((await logIn(other.browser, other.email)).status).toBe(303);
  });
});

describe('refusals are recorded under the account they name', () => {
  it('a per-network limit refusing attempts on two accounts writes a row in each one’s history', async () => {
    const limited = await t.sibling({ LOGIN_FAILURES_PER_IP: '3' });
    const v = await signUp(limited);
    const w = await signUp(limited);
    const ip = uniqueIp();
    for (let i = 0; i < 3; i += 1) {
      expect(
        (await visitor(limited.app, ip).submit('/login', '/login', { email: v.email, password: WRONG })).status,
      ).toBe(422);
    }
    for (const email of [v.email, v.email, w.email]) {
      expectCleanRefusal(await visitor(limited.app, ip).submit('/login', '/login', { email, password: WRONG }), 429);
    }
    const { rows } = await t.pool.query<{ user_id: string; attempts: number }>(
      `SELECT user_id::text AS user_id, attempts FROM auth_events
        WHERE event = 'throttled' AND user_id IN ($1, $2) ORDER BY id`,
      [v.id, w.id],
    );
    expect(rows).toEqual([
      { user_id: v.id, attempts: 2 },
      { user_id: w.id, attempts: 1 },
    ]);
  });
});
