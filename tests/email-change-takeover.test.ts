import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from './support/browser.js';
import { NEW_PASSWORD, PASSWORD, uniqueEmail } from './support/browser.js';
import { expectCleanRefusal, isLoggedIn } from './support/pages.js';
import { TRUST_LOOPBACK, eventKindsOf, logIn, sha256, signUp, userById, visitor } from './support/users.js';
import {
  followLink,
  linkIn,
  mailMark,
  openResetLink,
  pathOf,
  resetLinkFor,
  tokenOf,
  waitForMailTo,
} from './support/mail.js';
import { type TestApp, startTestApp } from './support/test-app.js';

/**
 * The account takeover the attacker's review found (issue 11, "High"): someone
 * with the password asks to move the account to their own address; the owner
 * secures the account (a new password, a reset, "sign out everywhere else");
 * the attacker's link must be dead by then. Also the notice's "Cancel this
 * change" link, and mailed links that never act on GET.
 */

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ ...TRUST_LOOPBACK });
});
afterAll(async () => {
  await t.close();
});

/** The attacker, logged in with the stolen password from a browser of their own, asks to move the account. */
async function attackerAsksForChange(victimEmail: string) {
  const attacker = visitor(t.app);
  expect((await logIn(attacker, victimEmail)).status).toBe(303);
  const attackerMailbox = uniqueEmail('attacker');
  const mark = await mailMark(t);
  const asked = await attacker.submit('/account/email', '/account/email', {
    email: attackerMailbox,
    password: PASSWORD,
  });
  expect(asked.status).toBe(303);
  const verifyLink = linkIn(await waitForMailTo(t, attackerMailbox, 'verify-email', mark), '/email/verify');
  const notice = await waitForMailTo(t, victimEmail, 'email-change-requested', mark);
  return { attacker, attackerMailbox, verifyLink, notice };
}

/** Every live verification link of the user for an address other than their own, and every cancel link. */
async function liveChangeLinks(userId: string): Promise<string[]> {
  const { rows } = await t.pool.query<{ purpose: string; email: string }>(
    `SELECT t.purpose, t.email FROM account_tokens t JOIN users u ON u.id = t.user_id
      WHERE t.user_id = $1 AND t.expires_at > now()
        AND (t.purpose = 'cancel_email_change' OR (t.purpose = 'verify_email' AND t.email <> u.email))`,
    [userId],
  );
  return rows.map((row) => `${row.purpose}:${row.email}`);
}

/** The attacker's link, followed later from a browser with no session: refused, the address unchanged. */
async function expectLinkDead(link: string, userId: string, email: string) {
  const answer = await followLink(visitor(t.app), link);
  expectCleanRefusal(answer, 400);
  const after = await userById(t, userId);
  expect(after?.email).toBe(email);
  expect(after?.pending_email).toBeNull();
}

describe('a pending email change does not outlive the owner securing the account', () => {
  it('a password change on /account/password cancels it: pending_email cleared, the link dead', async () => {
    const owner = await signUp(t);
    const { verifyLink } = await attackerAsksForChange(owner.email);
    expect((await userById(t, owner.id))?.pending_email).not.toBeNull();

    const changed = await owner.browser.submit('/account/password', '/account/password', {
      current: PASSWORD,
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    expect(changed.status).toBe(303);
    expect(await liveChangeLinks(owner.id)).toEqual([]);
    await expectLinkDead(verifyLink, owner.id, owner.email);
    expect(await eventKindsOf(t, owner.id)).toContain('email_change_cancelled');
  });

  it('a password reset by mail cancels it, and the attacker cannot then reset to their address', async () => {
    const owner = await signUp(t);
    const { verifyLink, attackerMailbox } = await attackerAsksForChange(owner.email);

    const browser = visitor(t.app);
    await openResetLink(browser, await resetLinkFor(t, owner.email, browser));
    const reset = await browser.submit('/password/reset', '/password/reset', {
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    expect(reset.status).toBe(303);

    expect(await liveChangeLinks(owner.id)).toEqual([]);
    await expectLinkDead(verifyLink, owner.id, owner.email);
    // "Forgot password" to the attacker's address finds no account.
    const mark2 = await mailMark(t);
    await visitor(t.app).submit('/password/forgot', '/password/forgot', { email: attackerMailbox });
    await t.deliverMail();
    await t.deliverMail();
    const theirs = (await t.deliverMail()).filter((mail) => mail.id > mark2 && mail.to === attackerMailbox);
    expect(theirs).toEqual([]);
  });

  it('"Sign out everywhere else" cancels it, and ends the attacker\'s session', async () => {
    const owner = await signUp(t);
    const { attacker, verifyLink } = await attackerAsksForChange(owner.email);
    const ended = await owner.browser.submit('/account/sessions', '/account/sessions/end-others', {});
    expect(ended.status).toBe(303);
    expect(await isLoggedIn(attacker)).toBe(false);
    expect(await liveChangeLinks(owner.id)).toEqual([]);
    await expectLinkDead(verifyLink, owner.id, owner.email);
  });

  it("a pre-registered account: the victim's own reset kills a change the squatter asked for", async () => {
    // The attacker signs up with the victim's address, then asks to move it to their own.
    const victimEmail = uniqueEmail('victim');
    const squatter = await signUp(t, { email: victimEmail });
    const squatterMailbox = uniqueEmail('squatter');
    const mark = await mailMark(t);
    expect(
      (
        await squatter.browser.submit('/account/email', '/account/email', {
          email: squatterMailbox,
          password: PASSWORD,
        })
      ).status,
    ).toBe(303);
    const verifyLink = linkIn(await waitForMailTo(t, squatterMailbox, 'verify-email', mark), '/email/verify');

    // The victim finds the account on their address and resets its password.
    const victim = visitor(t.app);
    await openResetLink(victim, await resetLinkFor(t, victimEmail, victim));
    const reset = await victim.submit('/password/reset', '/password/reset', {
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    expect(reset.status).toBe(303);
    expect(await isLoggedIn(squatter.browser)).toBe(false);
    await expectLinkDead(verifyLink, squatter.id, victimEmail);
  });

  it('a verification link for the address the account already has stays good through a password change', async () => {
    const owner = await signUp(t);
    const mark = await mailMark(t);
    expect((await owner.browser.submit('/', '/email/verify/send', {})).status).toBe(303);
    const ownLink = linkIn(await waitForMailTo(t, owner.email, 'verify-email', mark), '/email/verify');
    await owner.browser.submit('/account/password', '/account/password', {
      current: PASSWORD,
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    expect((await followLink(owner.browser, ownLink)).status).toBe(303);
    expect((await userById(t, owner.id))?.email_verified_at).toBeInstanceOf(Date);
  });
});

describe('"Cancel this change", from the notice to the old address', () => {
  it('is in the notice, single use, stored only as its SHA-256, and cancels with no login: sessions end, the link dies', async () => {
    const owner = await signUp(t);
    const { attacker, verifyLink, notice, attackerMailbox } = await attackerAsksForChange(owner.email);
    expect(notice.text).toContain(attackerMailbox);
    const cancelLink = linkIn(notice, '/email/change/cancel');
    expect(notice.html).toContain(cancelLink.replaceAll('&', '&amp;'));
    const { rows } = await t.pool.query<{ token_hash: Buffer; email: string; target_email: string }>(
      "SELECT token_hash, email, target_email FROM account_tokens WHERE user_id = $1 AND purpose = 'cancel_email_change'",
      [owner.id],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.token_hash.equals(sha256(tokenOf(cancelLink)))).toBe(true);
    expect(rows[0]!.email).toBe(owner.email);
    expect(rows[0]!.target_email).toBe(attackerMailbox);

    // Opened from the mail program, in a browser with no session.
    const reader = visitor(t.app);
    const page = await reader.get(pathOf(cancelLink));
    expect(page.status).toBe(200);
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.text).toContain(attackerMailbox);
    const done = await followLink(reader, cancelLink);
    expect(done.status).toBe(200);
    expect(done.text).toContain('The email change is cancelled');
    expect(done.text).toContain('action="/password/forgot"'); // what to do next: a new password

    const after = await userById(t, owner.id);
    expect(after?.email).toBe(owner.email);
    expect(after?.pending_email).toBeNull();
    expect(await isLoggedIn(attacker)).toBe(false);
    expect(await isLoggedIn(owner.browser)).toBe(false);
    await expectLinkDead(verifyLink, owner.id, owner.email);
    expect(await eventKindsOf(t, owner.id)).toEqual(
      expect.arrayContaining(['email_change_cancelled', 'sessions_ended']),
    );
    // Single use.
    expectCleanRefusal(await followLink(visitor(t.app), cancelLink), 400);
  });

  it('undoes a change that already happened: the old address is back, reset links to the new one die', async () => {
    const owner = await signUp(t);
    const { attacker, verifyLink, notice, attackerMailbox } = await attackerAsksForChange(owner.email);
    expect((await followLink(attacker, verifyLink)).status).toBe(303);
    expect((await userById(t, owner.id))?.email).toBe(attackerMailbox);
    // The attacker asks for a reset link to their address...
    const attackerReset = await resetLinkFor(t, attackerMailbox);

    // ...and the owner follows the cancel link from the first notice.
    const done = await followLink(visitor(t.app), linkIn(notice, '/email/change/cancel'));
    expect(done.status).toBe(200);
    expect(done.text).toContain('Your email address is back');
    const after = await userById(t, owner.id);
    expect(after?.email).toBe(owner.email);
    expect(after?.email_verified_at).toBeInstanceOf(Date);
    expect(await isLoggedIn(attacker)).toBe(false);
    expect(await eventKindsOf(t, owner.id)).toContain('email_change_reverted');

    const thief = visitor(t.app);
    await thief.get(pathOf(attackerReset));
    expectCleanRefusal(await thief.get('/password/reset'), 400);
    expect((await logIn(visitor(t.app), owner.email)).status).toBe(303);
    expect((await logIn(visitor(t.app), attackerMailbox)).status).toBe(422);
  });

  it('a garbage, cut or reused token is a 400 page and changes nothing', async () => {
    const owner = await signUp(t);
    const { notice } = await attackerAsksForChange(owner.email);
    const token = tokenOf(linkIn(notice, '/email/change/cancel'));
    for (const bad of ['', 'x', token.slice(0, 20), `${token}A`, token.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))]) {
      expectCleanRefusal(await visitor(t.app).get(`/email/change/cancel?token=${encodeURIComponent(bad)}`), 400);
    }
    expect((await userById(t, owner.id))?.pending_email).not.toBeNull();
  });
});

describe('a mailed link never changes anything on GET (mail scanners follow every link)', () => {
  /** What a scanner does: fetch the link, with no cookies, twice, and HEAD it. */
  async function prefetch(link: string): Promise<number[]> {
    const scanner = visitor(t.app);
    return [
      (await scanner.get(pathOf(link))).status,
      (await visitor(t.app).get(pathOf(link))).status,
      (await visitor(t.app).agent.head(pathOf(link))).status,
    ];
  }

  it('a verification link: fetched, the address stays unconfirmed and the link stays good', async () => {
    const user = await signUp(t);
    const link = linkIn(await waitForMailTo(t, user.email, 'verify-email'), '/email/verify');
    expect(await prefetch(link)).toEqual([200, 200, 200]);
    expect((await userById(t, user.id))?.email_verified_at).toBeNull();
    const page = await visitor(t.app).get(pathOf(link));
    expect(page.text).toMatch(/<form method="post" action="\/email\/verify">/);
    expect(page.text).toContain(user.email);
    expect((await followLink(user.browser, link)).status).toBe(303);
    expect((await userById(t, user.id))?.email_verified_at).toBeInstanceOf(Date);
  });

  it("an email change's link: fetched, the account keeps its address until the button is pressed", async () => {
    const owner = await signUp(t);
    const { verifyLink, attackerMailbox } = await attackerAsksForChange(owner.email);
    expect(await prefetch(verifyLink)).toEqual([200, 200, 200]);
    const before = await userById(t, owner.id);
    expect(before?.email).toBe(owner.email);
    expect(before?.pending_email).toBe(attackerMailbox);
  });

  it('a cancel link: fetched, nothing is cancelled and no session ends', async () => {
    const owner = await signUp(t);
    const { attacker, notice } = await attackerAsksForChange(owner.email);
    expect(await prefetch(linkIn(notice, '/email/change/cancel'))).toEqual([200, 200, 200]);
    expect((await userById(t, owner.id))?.pending_email).not.toBeNull();
    expect(await isLoggedIn(attacker)).toBe(true);
    expect(await isLoggedIn(owner.browser)).toBe(true);
  });

  it("the confirming POST needs the page's CSRF token", async () => {
    const user = await signUp(t);
    const link = linkIn(await waitForMailTo(t, user.email, 'verify-email'), '/email/verify');
    const forged: Browser = visitor(t.app);
    const answer = await forged.agent
      .post('/email/verify')
      .type('form')
      .send({ token: tokenOf(link) });
    expectCleanRefusal(answer, 403);
    expect((await userById(t, user.id))?.email_verified_at).toBeNull();
  });
});
