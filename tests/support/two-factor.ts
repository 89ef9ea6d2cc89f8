import { expect } from 'vitest';
import type { Browser } from './browser.js';
import { PASSWORD } from './browser.js';
import { unescapeHtml } from './pages.js';
import type { TestApp } from './test-app.js';
import { awayFromStepEdge, base32Decode, keyOnPage, stepAt, totpCode } from './totp.js';
import { signUp } from './users.js';

/** Reading and driving the second-factor pages the way a person with a phone does. */

/** The recovery codes a page shows, as written. */
export const codesOnPage = (html: string): string[] =>
  [...html.matchAll(/<li><code>([^<]+)<\/code><\/li>/g)].map((match) => unescapeHtml(match[1] ?? ''));

export interface Enrolled {
  /** The secret, read off the page's key as the phone would. */
  readonly secret: Buffer;
  readonly codes: string[];
}

/**
 * Sets up the authenticator app from a logged-in browser: reads the key off the page, and
 * confirms with the previous step's code (so the current step's code is still unused, for the
 * login that follows).
 */
export async function enrolApp(browser: Browser, password = PASSWORD): Promise<Enrolled> {
  const page = await browser.get('/account/two-factor/totp');
  expect(page.status).toBe(200);
  const secret = base32Decode(keyOnPage(page.text));
  await awayFromStepEdge();
  const done = await browser.submit('/account/two-factor/totp', '/account/two-factor/totp', {
    code: totpCode(secret, stepAt() - 1),
    password,
  });
  expect(done.status, done.text.slice(0, 400)).toBe(200);
  return { secret, codes: codesOnPage(done.text) };
}

/**
 * A user who signed up (signUp: a visitor of their own) and set up the authenticator app; their
 * signup browser completed a login and stays logged in.
 */
export async function enrolledUser(t: TestApp) {
  const user = await signUp(t);
  const enrolled = await enrolApp(user.browser);
  return { ...user, ...enrolled };
}

/** Logs in with the password from `browser`: expects the second step. */
export async function toSecondStep(
  browser: Browser,
  email: string,
  password = PASSWORD,
  extra: Record<string, string> = {},
) {
  const answer = await browser.submit('/login', '/login', { email, password, ...extra });
  expect(answer.status).toBe(303);
  expect(answer.headers['location']).toBe('/login/two-factor');
  return answer;
}

/** Submits a code on /login/two-factor. */
export const sendCode = (browser: Browser, code: string) =>
  browser.submit('/login/two-factor', '/login/two-factor', { code });

/** Submits a recovery code on /login/recovery-code. */
export const sendRecoveryCode = (browser: Browser, code: string) =>
  browser.submit('/login/recovery-code', '/login/recovery-code', { recovery_code: code });
