import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutgoingMail } from '../src/mail/mail-transport.js';
import { NEW_PASSWORD, PASSWORD, uniqueEmail } from './support/browser.js';
import { isLoggedIn, unescapeHtml } from './support/pages.js';
import { CHROME_WINDOWS, FIREFOX_LINUX, TRUST_LOOPBACK, logIn, signUp, uniqueIp, visitor } from './support/users.js';
import {
  NOT_YOU,
  followLink,
  linkIn,
  mailMark,
  mailsAfter,
  openResetLink,
  resetLinkFor,
  waitForMailTo,
} from './support/mail.js';
import { type TestApp, startTestApp } from './support/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ ...TRUST_LOOPBACK });
});
afterAll(async () => {
  await t.close();
});

/** The mail of `template` delivered after `mark` (waiting for what is queued after an answer). */
const sentAfter = async (mark: number, template?: string): Promise<OutgoingMail[]> =>
  (await mailsAfter(t, mark)).filter((mail) => template === undefined || mail.template === template);

/** The guidance for someone who did not do this, in both parts of a message. */
function expectNotYouGuidance(mail: OutgoingMail): void {
  expect(mail.text).toContain(NOT_YOU);
  expect(unescapeHtml(mail.html.replace(/<[^>]+>/g, ' '))).toContain(NOT_YOU);
}

describe('"new sign-in" notices', () => {
  it('a login from a new browser (another User-Agent) mails the account a notice naming the browser and IP', async () => {
    const user = await signUp(t, { userAgent: CHROME_WINDOWS });
    const ip = uniqueIp();
    const mark = await mailMark(t);
    const browser = visitor(t.app, ip, FIREFOX_LINUX);
    expect((await logIn(browser, user.email)).status).toBe(303);

    const notice = await waitForMailTo(t, user.email, 'new-sign-in', mark);
    expect(notice.to).toBe(user.email);
    expect(notice.subject).toMatch(/new sign-in/i);
    // The address has not been confirmed: the mail carries no name, which anyone could have typed.
    expect(notice.text).not.toContain(user.name);
    expect(notice.text).toContain('Hello,');
    expect(notice.text).toContain('Firefox 133 on Linux');
    expect(notice.text).toContain(ip);
    expect(notice.text).not.toContain(FIREFOX_LINUX); // the short name, not the raw header
    expect(notice.text).toContain(`${t.config.publicUrl}/password/forgot`);
    expect(notice.html).toContain('Firefox 133 on Linux');
    expect(notice.html).toContain(ip);
    expectNotYouGuidance(notice);
    expect(await sentAfter(mark, 'new-sign-in')).toHaveLength(1);
  });

  it('a different User-Agent from the same IP is a new browser too', async () => {
    const ip = uniqueIp();
    const user = await signUp(t, { ip, userAgent: CHROME_WINDOWS });
    const mark = await mailMark(t);
    expect((await logIn(visitor(t.app, ip, FIREFOX_LINUX), user.email)).status).toBe(303);
    const notice = await waitForMailTo(t, user.email, 'new-sign-in', mark);
    expect(notice.text).toContain('Firefox 133 on Linux');
    expect(notice.text).toContain(ip);
  });

  it('a second login from the same browser sends none', async () => {
    const user = await signUp(t, { userAgent: CHROME_WINDOWS });
    const ip = uniqueIp();
    const first = await mailMark(t);
    expect((await logIn(visitor(t.app, ip, FIREFOX_LINUX), user.email)).status).toBe(303);
    await waitForMailTo(t, user.email, 'new-sign-in', first);

    const mark = await mailMark(t);
    const again = visitor(t.app, ip, FIREFOX_LINUX);
    expect((await logIn(again, user.email)).status).toBe(303);
    expect(await isLoggedIn(again)).toBe(true);
    expect(await sentAfter(mark)).toEqual([]);
  });

  it('the browser that signed up counts as known: logging in from it sends none', async () => {
    const user = await signUp(t, { userAgent: FIREFOX_LINUX });
    const mark = await mailMark(t);
    // Log out, then back in from the same browser.
    expect((await user.browser.submit('/logout', '/logout', {})).status).toBe(303);
    expect((await logIn(user.browser, user.email)).status).toBe(303);
    // And from another tab's worth of cookies with the same agent and address.
    expect((await logIn(visitor(t.app, user.ip, user.userAgent), user.email)).status).toBe(303);
    expect(await sentAfter(mark, 'new-sign-in')).toEqual([]);
  });

  it('the same browser from another IP counts as new (browsers are known by user agent and IP)', async () => {
    const user = await signUp(t, { userAgent: FIREFOX_LINUX });
    const other = uniqueIp();
    const mark = await mailMark(t);
    expect((await logIn(visitor(t.app, other, user.userAgent), user.email)).status).toBe(303);
    const notice = await waitForMailTo(t, user.email, 'new-sign-in', mark);
    expect(notice.text).toContain(other);
  });

  it('a failed login sends no notice', async () => {
    const user = await signUp(t);
    const mark = await mailMark(t);
    expect((await logIn(visitor(t.app, uniqueIp(), FIREFOX_LINUX), user.email, 'wrong password here')).status).toBe(
      422,
    );
    expect(await sentAfter(mark)).toEqual([]);
  });

  it('names an unknown agent by its start, and escapes it in the HTML part', async () => {
    const user = await signUp(t);
    const mark = await mailMark(t);
    const agent = '<img src=x onerror=alert(1)>';
    expect((await logIn(visitor(t.app, uniqueIp(), agent), user.email)).status).toBe(303);
    const notice = await waitForMailTo(t, user.email, 'new-sign-in', mark);
    expect(notice.text).toContain(agent);
    expect(notice.html).not.toContain('<img src=x');
    expect(notice.html).toContain('&lt;img src=x');
  });

  it("goes to the account's current address after an email change", async () => {
    const user = await signUp(t);
    const newEmail = uniqueEmail('moved');
    const mark = await mailMark(t);
    const change = await user.browser.submit('/account/email', '/account/email', {
      email: newEmail,
      password: PASSWORD,
    });
    expect(change.status).toBe(303);
    const link = linkIn(await waitForMailTo(t, newEmail, 'verify-email', mark), '/email/verify');
    expect((await followLink(user.browser, link)).status).toBe(303);

    const after = await mailMark(t);
    expect((await logIn(visitor(t.app, uniqueIp(), FIREFOX_LINUX), newEmail)).status).toBe(303);
    const notice = await waitForMailTo(t, newEmail, 'new-sign-in', after);
    expect(notice.to).toBe(newEmail);
    expect((await sentAfter(after)).filter((mail) => mail.to === user.email)).toEqual([]);
  });
});

describe('the other notices and links carry "if this wasn\'t you" guidance, to the account\'s address', () => {
  it("'password-changed' after a change on /account/password, with the IP and browser", async () => {
    const ip = uniqueIp();
    const user = await signUp(t, { ip, userAgent: FIREFOX_LINUX });
    const mark = await mailMark(t);
    const change = await user.browser.submit('/account/password', '/account/password', {
      current: PASSWORD,
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    expect(change.status).toBe(303);
    const notice = await waitForMailTo(t, user.email, 'password-changed', mark);
    expect(notice.to).toBe(user.email);
    expect(notice.subject).toMatch(/password was changed/i);
    expect(notice.text).toContain(ip);
    expect(notice.text).toContain('Firefox 133 on Linux');
    expect(notice.text).toContain(`${t.config.publicUrl}/password/forgot`);
    expectNotYouGuidance(notice);
  });

  it("a failed password change sends no 'password-changed' notice", async () => {
    const user = await signUp(t);
    const mark = await mailMark(t);
    const change = await user.browser.submit('/account/password', '/account/password', {
      current: 'not my password at all',
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    expect(change.status).toBe(422);
    expect(await sentAfter(mark)).toEqual([]);
  });

  it("'email-change-requested' goes to the old address and names the new one", async () => {
    const user = await signUp(t);
    const newEmail = uniqueEmail('new');
    const mark = await mailMark(t);
    const change = await user.browser.submit('/account/email', '/account/email', {
      email: newEmail,
      password: PASSWORD,
    });
    expect(change.status).toBe(303);
    const notice = await waitForMailTo(t, user.email, 'email-change-requested', mark);
    expect(notice.to).toBe(user.email);
    expect(notice.text).toContain(newEmail);
    expect(notice.html).toContain(newEmail);
    expectNotYouGuidance(notice);
    const toNew = (await sentAfter(mark)).filter((mail) => mail.to === newEmail);
    expect(toNew.map((mail) => mail.template)).toEqual(['verify-email']);
  });

  it("'password-reset' and 'verify-email' mails say what to do if it wasn't you", async () => {
    const mark = await mailMark(t);
    const user = await signUp(t);
    const verify = await waitForMailTo(t, user.email, 'verify-email', mark);
    expectNotYouGuidance(verify);
    expect((await visitor(t.app).submit('/password/forgot', '/password/forgot', { email: user.email })).status).toBe(
      200,
    );
    const reset = await waitForMailTo(t, user.email, 'password-reset', mark);
    expect(reset.to).toBe(user.email);
    expectNotYouGuidance(reset);
  });

  it("the reset flow's own 'password-changed' notice goes to the account's address", async () => {
    const user = await signUp(t);
    const mark = await mailMark(t);
    const browser = visitor(t.app, uniqueIp(), FIREFOX_LINUX);
    await openResetLink(browser, await resetLinkFor(t, user.email, browser));
    const done = await browser.submit('/password/reset', '/password/reset', {
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    expect(done.status).toBe(303);
    const notice = await waitForMailTo(t, user.email, 'password-changed', mark);
    expect(notice.text).toContain('Firefox 133 on Linux');
    expectNotYouGuidance(notice);
  });
});
