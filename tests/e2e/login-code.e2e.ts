import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { awayFromStepEdge, base32Decode, stepAt, totpCode } from '../support/totp.js';
import {
  SIGN_IN_CODE_LINE,
  codeFromMail,
  detail,
  navigation,
  newUser,
  pathOf,
  signUpWith,
  useAppAndBrowser,
} from './support.js';

// Signing in with a code by email in a real browser: the code is read from the mail the app's
// worker writes to its development outbox (DATA_DIR/outbox), as a person would read their inbox.

const e2e = useAppAndBrowser();

const WAY_IN = 'Email me a sign-in code';
const DIDNT_WORK = "That code didn't work. Type the code from the newest mail we sent.";
const PROTECTED = '/account/sessions';

/** Logs out with the header's button; expects the login page. */
async function logOut(page: Page): Promise<void> {
  expect(await navigation(page, () => page.getByRole('button', { name: 'Log out' }).click())).toBe(200);
  expect(pathOf(page)).toBe('/login');
  await expect(page.locator('.nav-user').count()).resolves.toBe(0);
}

/**
 * From a protected page, logged out: sent to log in, follows "Email me a sign-in code" (next
 * kept), asks for a code to `email`, and is on the page where it is typed; the code from the mail.
 */
async function askForCodeFrom(page: Page, email: string): Promise<string> {
  await page.goto(e2e.app.url(PROTECTED));
  expect(pathOf(page)).toBe(`/login?next=${encodeURIComponent(PROTECTED)}`);

  expect(await navigation(page, () => page.getByRole('link', { name: WAY_IN }).click())).toBe(200);
  expect(pathOf(page)).toBe(`/login/code?next=${encodeURIComponent(PROTECTED)}`);
  await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Sign in with a code');
  await page.getByLabel('Email', { exact: true }).fill(email);
  expect(await navigation(page, () => page.getByRole('button', { name: 'Email me a code' }).click())).toBe(200);
  expect(pathOf(page)).toBe('/login/code/enter');
  await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Enter your sign-in code');
  await expect(page.locator('.lede').innerText()).resolves.toContain(email);

  const code = await codeFromMail(e2e.app, email);
  expect(code).toMatch(SIGN_IN_CODE_LINE);
  return code;
}

/** Types `typed` as the code and presses "Sign in"; the final status. */
async function enterCode(page: Page, typed: string): Promise<number> {
  await page.getByLabel('Sign-in code').fill(typed);
  return navigation(page, () => page.getByRole('button', { name: 'Sign in' }).click());
}

/** A code of the right shape that is not `code` (so a wrong try, not a malformed one). */
const otherThan = (code: string): string => (code === 'ZZZ-ZZZ' ? 'yyyyyy' : 'zzzzzz');

describe('sign in with a code by email, in a real browser', () => {
  it('a person who signed up logs back in with the code from the mail, typed in lower case without the dash, and lands on the page they asked for', async () => {
    const user = newUser({ name: 'Coded Cora' });
    const page = await e2e.freshPage();
    expect(await signUpWith(page, e2e.app, user)).toBe(200);
    await expect(detail(page, 'Email').innerText()).resolves.toBe(user.email);
    await logOut(page);

    const code = await askForCodeFrom(page, user.email);

    // A wrong code is refused, and nobody is logged in.
    expect(await enterCode(page, otherThan(code))).toBe(422);
    expect(pathOf(page)).toBe('/login/code/enter');
    expect(await page.getByText(DIDNT_WORK).isVisible(), `the page says "${DIDNT_WORK}"`).toBe(true);
    await expect(page.getByLabel('Sign-in code').getAttribute('aria-invalid')).resolves.toBe('true');
    await expect(page.locator('.nav-user').count()).resolves.toBe(0);

    // The right one, as a person might type it: lower case, no dash.
    const typed = code.replace('-', '').toLowerCase();
    expect(typed).toMatch(/^[a-z2-9]{6}$/);
    expect(await enterCode(page, typed)).toBe(200);
    expect(pathOf(page)).toBe(PROTECTED);
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Your sessions');
    await expect(page.locator('.nav-user').innerText()).resolves.toBe(`Signed in as ${user.name}`);
    await expect(page.getByText('This browser', { exact: true }).count()).resolves.toBe(1);

    // The code came to the address, so it proves it: the dashboard shows it confirmed.
    await page.goto(e2e.app.url('/'));
    expect(pathOf(page)).toBe('/');
    await expect(detail(page, 'Email').innerText()).resolves.toBe(`${user.email} Confirmed`);
  });

  it('with an authenticator app, the code from the mail leads to the second step, and a code from the app completes the login', async () => {
    const user = newUser({ name: 'Doubly Dev' });
    const page = await e2e.freshPage();
    expect(await signUpWith(page, e2e.app, user)).toBe(200);

    // Turn on the app, as two-factor.e2e.ts does (the tests' RFC 6238 code stands in for the phone).
    expect((await page.goto(e2e.app.url('/account/two-factor/totp')))?.status()).toBe(200);
    const secret = base32Decode((await page.locator('#totp-key').innerText()).trim());
    await awayFromStepEdge();
    await page.getByLabel('Code from the app').fill(totpCode(secret, stepAt() - 1));
    await page.getByLabel('Current password').fill(user.password);
    expect(await navigation(page, () => page.getByRole('button', { name: 'Turn on two-step sign-in' }).click())).toBe(
      200,
    );
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Two-step sign-in is on');
    await logOut(page);

    const code = await askForCodeFrom(page, user.email);
    expect(await enterCode(page, code)).toBe(200);

    // The code is only the first factor: the second step, still logged out.
    expect(pathOf(page)).toBe('/login/two-factor');
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Two-step sign-in');
    await expect(page.locator('.nav-user').count()).resolves.toBe(0);

    await awayFromStepEdge();
    await page.getByLabel('Code').fill(totpCode(secret, stepAt()));
    expect(await navigation(page, () => page.getByRole('button', { name: 'Continue' }).click())).toBe(200);
    expect(pathOf(page)).toBe(PROTECTED);
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Your sessions');
    await expect(page.locator('.nav-user').innerText()).resolves.toBe(`Signed in as ${user.name}`);
  });
});
