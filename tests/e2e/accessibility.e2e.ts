import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { awayFromStepEdge, base32Decode, stepAt, totpCode } from '../support/totp.js';
import {
  AXE_CONTEXT,
  type E2eSession,
  LOGIN_FAILURES_PER_ACCOUNT,
  codeFromMail,
  expectNoAxeViolations,
  linkFromMail,
  logInWith,
  navigation,
  newUser,
  pathOf,
  registeredUser,
  signUpWith,
  uniqueEmail,
  useAppAndBrowser,
} from './support.js';

const e2e = useAppAndBrowser();

interface State {
  readonly name: string;
  /** Brings `page` into the state, checking that it got there. */
  reach(page: Page, e2e: E2eSession): Promise<void>;
}

const loggedIn = async (page: Page, { app }: E2eSession) => {
  const user = await registeredUser(app);
  await page.goto(app.url('/login'));
  expect(await logInWith(page, user.email, user.password)).toBe(200);
  return user;
};

/** Logged in, then on `path` (an account page), which answers 200. */
const onAccountPage = async (page: Page, e2e: E2eSession, path: string) => {
  const user = await loggedIn(page, e2e);
  expect((await page.goto(e2e.app.url(path)))?.status()).toBe(200);
  return user;
};

/** Asked for a reset link for a new account on /password/forgot, and showing the "sent" page. */
const resetRequested = async (page: Page, { app }: E2eSession) => {
  const user = await registeredUser(app);
  await page.goto(app.url('/password/forgot'));
  await page.getByLabel('Email', { exact: true }).fill(user.email);
  expect(await navigation(page, () => page.getByRole('button', { name: 'Send me a link' }).click())).toBe(200);
  return user;
};

/** On the reset form, reached from the link in the mail. */
const onResetForm = async (page: Page, e2e: E2eSession) => {
  const user = await resetRequested(page, e2e);
  expect((await page.goto(await linkFromMail(e2e.app, user.email, 'password-reset')))?.status()).toBe(200);
  expect(pathOf(page)).toBe('/password/reset');
};

// Every page, in each state a visitor can see it in.
const STATES: State[] = [
  {
    name: 'the empty sign-up form',
    async reach(page, { app }) {
      expect((await page.goto(app.url('/signup')))?.status()).toBe(200);
    },
  },
  {
    name: 'the sign-up form with every field in error',
    async reach(page, { app }) {
      await page.goto(app.url('/signup'));
      await page.locator('input[name="email"]').fill('not-an-email');
      await page.locator('input[name="password"]').fill('short');
      await page.locator('input[name="confirm"]').fill('other');
      await page.locator('input[name="website"]').fill('ftp://x.example');
      expect(await navigation(page, () => page.getByRole('button', { name: 'Sign up' }).click())).toBe(422);
      await expect(page.locator('[aria-invalid="true"]').count()).resolves.toBe(5);
    },
  },
  {
    name: 'the empty login form',
    async reach(page, { app }) {
      expect((await page.goto(app.url('/login')))?.status()).toBe(200);
    },
  },
  {
    name: 'the login form saying a page needs a login',
    async reach(page, { app }) {
      await page.goto(app.url('/?tab=2'));
      expect(pathOf(page)).toBe('/login?next=%2F%3Ftab%3D2');
      const message = 'You must be logged in to view that page.';
      expect(await page.getByText(message).isVisible(), `the login page says "${message}"`).toBe(true);
    },
  },
  {
    name: 'the login form with a wrong password',
    async reach(page, { app }) {
      await page.goto(app.url('/login'));
      expect(await logInWith(page, uniqueEmail('nobody'), 'wrong password')).toBe(422);
      const message = 'Invalid email/password combination.';
      expect(await page.getByText(message).isVisible(), `the login page says "${message}"`).toBe(true);
    },
  },
  {
    name: 'the login form after logging out',
    async reach(page, e2e) {
      await loggedIn(page, e2e);
      expect(await navigation(page, () => page.getByRole('button', { name: 'Log out' }).click())).toBe(200);
      expect(pathOf(page)).toBe('/login');
    },
  },
  {
    name: 'the dashboard with the welcome message',
    async reach(page, { app }) {
      const user = newUser({ website: 'https://ada.example/notes' });
      expect(await signUpWith(page, app, user)).toBe(200);
      const message = 'Welcome to Gatehouse!';
      expect(await page.getByText(message).isVisible(), `the dashboard says "${message}"`).toBe(true);
    },
  },
  {
    name: 'the dashboard',
    async reach(page, e2e) {
      await loggedIn(page, e2e);
      expect(pathOf(page)).toBe('/');
    },
  },
  {
    name: 'the log-out page',
    async reach(page, e2e) {
      await loggedIn(page, e2e);
      expect((await page.goto(e2e.app.url('/logout')))?.status()).toBe(200);
    },
  },
  {
    name: 'the 404 page',
    async reach(page, { app }) {
      expect((await page.goto(app.url('/no/such/page')))?.status()).toBe(404);
    },
  },
  {
    name: 'the 403 page',
    async reach(page, { app }) {
      await page.goto(app.url('/login'));
      // A form whose token no longer matches the session, as after the session changed in another tab.
      await page.locator('form[action="/login"] input[name="_csrf"]').evaluate((input: HTMLInputElement) => {
        input.value = 'stale-token';
      });
      expect(await logInWith(page, uniqueEmail('stale'), 'whatever password')).toBe(403);
    },
  },
  {
    name: 'the 429 page',
    async reach(page, { app }) {
      const email = uniqueEmail('guesser');
      let status = 0;
      for (let attempt = 0; attempt <= LOGIN_FAILURES_PER_ACCOUNT && status !== 429; attempt++) {
        await page.goto(app.url('/login'));
        status = await logInWith(page, email, `guess number ${attempt}`);
      }
      expect(status).toBe(429);
    },
  },
  {
    name: 'the profile page',
    async reach(page, e2e) {
      await onAccountPage(page, e2e, '/account');
    },
  },
  {
    name: 'the profile page after saving',
    async reach(page, e2e) {
      await onAccountPage(page, e2e, '/account');
      await page.getByLabel('Website').fill('https://ada.example/');
      expect(await navigation(page, () => page.getByRole('button', { name: 'Save profile' }).click())).toBe(200);
      expect(await page.getByText('Your profile was saved.').isVisible()).toBe(true);
    },
  },
  {
    name: 'the profile page with every field in error',
    async reach(page, e2e) {
      await onAccountPage(page, e2e, '/account');
      await page.getByLabel('Name', { exact: true }).fill(' ');
      await page.getByLabel('Website').fill('ftp://x.example');
      expect(await navigation(page, () => page.getByRole('button', { name: 'Save profile' }).click())).toBe(422);
      await expect(page.locator('[aria-invalid="true"]').count()).resolves.toBe(2);
    },
  },
  {
    name: 'the email page',
    async reach(page, e2e) {
      await onAccountPage(page, e2e, '/account/email');
    },
  },
  {
    name: 'the email page with every field in error',
    async reach(page, e2e) {
      await onAccountPage(page, e2e, '/account/email');
      await page.getByLabel('New email').fill('not-an-email');
      expect(await navigation(page, () => page.getByRole('button', { name: 'Change email' }).click())).toBe(422);
      await expect(page.locator('[aria-invalid="true"]').count()).resolves.toBe(2);
    },
  },
  {
    name: 'the email page with a change waiting for its link',
    async reach(page, e2e) {
      const user = await onAccountPage(page, e2e, '/account/email');
      await page.getByLabel('New email').fill(uniqueEmail('moving'));
      await page.getByLabel('Current password').fill(user.password);
      expect(await navigation(page, () => page.getByRole('button', { name: 'Change email' }).click())).toBe(200);
      await expect(page.getByRole('button', { name: 'Send the link again' }).isVisible()).resolves.toBe(true);
    },
  },
  {
    name: 'the password page',
    async reach(page, e2e) {
      await onAccountPage(page, e2e, '/account/password');
    },
  },
  {
    name: 'the password page with every field in error',
    async reach(page, e2e) {
      await onAccountPage(page, e2e, '/account/password');
      await page.getByLabel('New password', { exact: true }).fill('short');
      await page.getByLabel('Confirm new password').fill('other');
      expect(await navigation(page, () => page.getByRole('button', { name: 'Change password' }).click())).toBe(422);
      await expect(page.locator('[aria-invalid="true"]').count()).resolves.toBe(3);
    },
  },
  {
    name: 'the password page with a wrong current password',
    async reach(page, e2e) {
      await onAccountPage(page, e2e, '/account/password');
      await page.getByLabel('Current password').fill('not my password');
      await page.getByLabel('New password', { exact: true }).fill('a new passphrase');
      await page.getByLabel('Confirm new password').fill('a new passphrase');
      expect(await navigation(page, () => page.getByRole('button', { name: 'Change password' }).click())).toBe(422);
      await expect(page.locator('[aria-invalid="true"]').count()).resolves.toBe(1);
    },
  },
  {
    name: 'the sessions page with two sessions',
    async reach(page, e2e) {
      // Signed up here (one session), then logged in from another browser (the second).
      const user = newUser();
      expect(await signUpWith(page, e2e.app, user)).toBe(200);
      const other = await (
        await e2e.newContext({ userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0' })
      ).newPage();
      await other.goto(e2e.app.url('/login'));
      expect(await logInWith(other, user.email, user.password)).toBe(200);
      expect((await page.goto(e2e.app.url('/account/sessions')))?.status()).toBe(200);
      await expect(page.locator('ul.sessions > li').count()).resolves.toBe(2);
      await expect(page.getByText('This browser', { exact: true }).count()).resolves.toBe(1);
    },
  },
  {
    name: 'the sessions page with one session',
    async reach(page, e2e) {
      expect(await signUpWith(page, e2e.app, newUser())).toBe(200);
      expect((await page.goto(e2e.app.url('/account/sessions')))?.status()).toBe(200);
      await expect(page.locator('ul.sessions > li').count()).resolves.toBe(1);
    },
  },
  {
    name: 'the delete page',
    async reach(page, e2e) {
      await onAccountPage(page, e2e, '/account/delete');
    },
  },
  {
    name: 'the delete page with every field in error',
    async reach(page, e2e) {
      await onAccountPage(page, e2e, '/account/delete');
      expect(await navigation(page, () => page.getByRole('button', { name: 'Delete my account' }).click())).toBe(422);
      await expect(page.locator('[aria-invalid="true"]').count()).resolves.toBe(2);
    },
  },
  {
    name: 'the login page after deleting an account',
    async reach(page, e2e) {
      const user = await onAccountPage(page, e2e, '/account/delete');
      await page.getByLabel('Your password').fill(user.password);
      await page.getByLabel('I understand that my account will be deleted for good').check();
      expect(await navigation(page, () => page.getByRole('button', { name: 'Delete my account' }).click())).toBe(200);
      expect(pathOf(page)).toBe('/login');
    },
  },
  {
    name: 'the forgot-password form',
    async reach(page, { app }) {
      expect((await page.goto(app.url('/password/forgot')))?.status()).toBe(200);
    },
  },
  {
    name: 'the forgot-password form with an invalid email',
    async reach(page, { app }) {
      await page.goto(app.url('/password/forgot'));
      await page.getByLabel('Email', { exact: true }).fill('not-an-email');
      expect(await navigation(page, () => page.getByRole('button', { name: 'Send me a link' }).click())).toBe(422);
      await expect(page.locator('[aria-invalid="true"]').count()).resolves.toBe(1);
    },
  },
  {
    name: 'the "check your email" page',
    async reach(page, e2e) {
      await resetRequested(page, e2e);
      await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Check your email');
    },
  },
  {
    name: 'the reset form',
    async reach(page, e2e) {
      await onResetForm(page, e2e);
    },
  },
  {
    name: 'the reset form with every field in error',
    async reach(page, e2e) {
      await onResetForm(page, e2e);
      await page.getByLabel('New password', { exact: true }).fill('short');
      await page.getByLabel('Confirm new password').fill('other');
      expect(await navigation(page, () => page.getByRole('button', { name: 'Set new password' }).click())).toBe(422);
      await expect(page.locator('[aria-invalid="true"]').count()).resolves.toBe(2);
    },
  },
  {
    name: 'the invalid reset link page',
    async reach(page, { app }) {
      expect((await page.goto(app.url('/password/reset?token=not-a-real-token')))?.status()).toBe(400);
      expect(pathOf(page)).toBe('/password/reset');
    },
  },
  {
    name: 'the invalid confirmation link page, logged in',
    async reach(page, e2e) {
      await loggedIn(page, e2e);
      expect((await page.goto(e2e.app.url('/email/verify?token=not-a-real-token')))?.status()).toBe(400);
      await expect(page.getByRole('button', { name: 'Send me a new link' }).isVisible()).resolves.toBe(true);
    },
  },
  {
    name: 'the dashboard with the verification banner',
    async reach(page, e2e) {
      await loggedIn(page, e2e);
      const banner = page.getByRole('region', { name: 'Confirm your email address' });
      await expect(banner.isVisible()).resolves.toBe(true);
    },
  },
  {
    name: 'the dashboard after "Send the link again"',
    async reach(page, e2e) {
      await loggedIn(page, e2e);
      const resend = page.getByRole('button', { name: 'Send the link again' });
      expect(await navigation(page, () => resend.click())).toBe(200);
      expect(pathOf(page)).toBe('/');
    },
  },
  {
    name: 'the page a confirmation link opens',
    async reach(page, e2e) {
      const user = await loggedIn(page, e2e);
      expect(
        await navigation(page, async () => page.goto(await linkFromMail(e2e.app, user.email, 'verify-email'))),
      ).toBe(200);
      await expect(page.getByRole('button', { name: `Confirm ${user.email}` }).isVisible()).resolves.toBe(true);
    },
  },
  {
    name: 'the dashboard with a confirmed address',
    async reach(page, e2e) {
      const user = await loggedIn(page, e2e);
      expect(
        await navigation(page, async () => page.goto(await linkFromMail(e2e.app, user.email, 'verify-email'))),
      ).toBe(200);
      expect(await navigation(page, () => page.getByRole('button', { name: `Confirm ${user.email}` }).click())).toBe(
        200,
      );
      expect(pathOf(page)).toBe('/');
      await expect(page.getByText('Confirmed', { exact: true }).isVisible()).resolves.toBe(true);
    },
  },
  {
    name: 'the page a "Cancel this change" link opens',
    async reach(page, e2e) {
      await emailChangeAsked(page, e2e);
    },
  },
  {
    name: 'the email change cancelled, and what to do next',
    async reach(page, e2e) {
      await emailChangeAsked(page, e2e);
      expect(
        await navigation(page, () =>
          page.getByRole('button', { name: 'Cancel the change and sign out everywhere' }).click(),
        ),
      ).toBe(200);
      await expect(page.getByRole('heading', { name: 'The email change is cancelled' }).count()).resolves.toBe(1);
    },
  },
  {
    name: 'a reset link for another account, opened while logged in',
    async reach(page, e2e) {
      const other = await resetRequested(page, e2e);
      await loggedIn(page, e2e);
      expect((await page.goto(await linkFromMail(e2e.app, other.email, 'password-reset')))?.status()).toBe(409);
    },
  },
  {
    name: 'the sign-in code form',
    async reach(page, { app }) {
      expect((await page.goto(app.url('/login/code?next=%2Faccount')))?.status()).toBe(200);
      await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Sign in with a code');
    },
  },
  {
    name: 'the sign-in code form with an invalid email',
    async reach(page, { app }) {
      await page.goto(app.url('/login/code'));
      await page.getByLabel('Email', { exact: true }).fill('not-an-email');
      expect(await navigation(page, () => page.getByRole('button', { name: 'Email me a code' }).click())).toBe(422);
      await expect(page.locator('[aria-invalid="true"]').count()).resolves.toBe(1);
    },
  },
  {
    name: 'the sign-in code form, after the code page was opened with no code asked for',
    async reach(page, { app }) {
      await page.goto(app.url('/login/code/enter'));
      expect(pathOf(page)).toBe('/login/code');
      const message = 'Ask for a sign-in code first: it works only in the browser that asked for it.';
      expect(await page.getByText(message).isVisible(), `the page says "${message}"`).toBe(true);
    },
  },
  {
    name: 'the page where a sign-in code is typed',
    async reach(page, e2e) {
      await codeAsked(page, e2e);
    },
  },
  {
    name: 'the page where a sign-in code is typed, after a wrong code',
    async reach(page, e2e) {
      const { code } = await codeAsked(page, e2e);
      await page.getByLabel('Sign-in code').fill(code === 'ZZZ-ZZZ' ? 'YYY-YYY' : 'ZZZ-ZZZ');
      expect(await navigation(page, () => page.getByRole('button', { name: 'Sign in' }).click())).toBe(422);
      await expect(page.locator('[aria-invalid="true"]').count()).resolves.toBe(1);
      const message = "That code didn't work. Type the code from the newest mail we sent.";
      expect(await page.getByText(message).isVisible(), `the page says "${message}"`).toBe(true);
    },
  },
  {
    name: 'the page where a sign-in code is typed, after a code that no longer works',
    async reach(page, { app }) {
      // No account, so no live code: any code typed is one that does not work any more.
      await page.goto(app.url('/login/code'));
      await page.getByLabel('Email', { exact: true }).fill(uniqueEmail('nobody'));
      expect(await navigation(page, () => page.getByRole('button', { name: 'Email me a code' }).click())).toBe(200);
      await page.getByLabel('Sign-in code').fill('ABC-DEF');
      expect(await navigation(page, () => page.getByRole('button', { name: 'Sign in' }).click())).toBe(422);
      await expect(page.locator('[aria-invalid="true"]').count()).resolves.toBe(1);
      const message = 'That code has expired, has been used, or had too many wrong tries. Ask for a new one.';
      expect(await page.getByText(message).isVisible(), `the page says "${message}"`).toBe(true);
      await expect(page.getByRole('link', { name: 'Ask for a new code' }).isVisible()).resolves.toBe(true);
    },
  },
  {
    name: 'the security page, with no second factor',
    async reach(page, e2e) {
      await onAccountPage(page, e2e, '/account/security');
    },
  },
  {
    name: 'setting up an authenticator app',
    async reach(page, e2e) {
      await onAccountPage(page, e2e, '/account/two-factor/totp');
      await expect(page.getByRole('img', { name: /QR code/ }).isVisible()).resolves.toBe(true);
    },
  },
  {
    name: 'setting up an authenticator app, with a wrong code and a wrong password',
    async reach(page, e2e) {
      await onAccountPage(page, e2e, '/account/two-factor/totp');
      await page.getByLabel('Code from the app').fill('000000');
      await page.getByLabel('Current password').fill('not the password');
      expect(await navigation(page, () => page.getByRole('button', { name: 'Turn on two-step sign-in' }).click())).toBe(
        422,
      );
    },
  },
  {
    name: 'the recovery codes, shown once',
    async reach(page, e2e) {
      await appEnrolled(page, e2e);
    },
  },
  {
    name: 'the security page, with the app on',
    async reach(page, e2e) {
      await appEnrolled(page, e2e);
      expect((await page.goto(e2e.app.url('/account/security')))?.status()).toBe(200);
    },
  },
  {
    name: 'the second step of a login, after a wrong code',
    async reach(page, e2e) {
      const { user } = await appEnrolled(page, e2e);
      await navigation(page, () => page.getByRole('button', { name: 'Log out' }).click());
      expect(await logInWith(page, user.email, user.password)).toBe(200);
      expect(pathOf(page)).toBe('/login/two-factor');
      await page.getByLabel('Code').fill('000000');
      expect(await navigation(page, () => page.getByRole('button', { name: 'Continue' }).click())).toBe(422);
    },
  },
  {
    name: 'the recovery-code step of a login',
    async reach(page, e2e) {
      const { user } = await appEnrolled(page, e2e);
      await navigation(page, () => page.getByRole('button', { name: 'Log out' }).click());
      expect(await logInWith(page, user.email, user.password)).toBe(200);
      expect(await navigation(page, () => page.getByRole('link', { name: 'Use a recovery code' }).click())).toBe(200);
    },
  },
];

/** Logged in with the authenticator app just set up: on the page showing the recovery codes. */
async function appEnrolled(page: Page, e2e: E2eSession) {
  const user = await onAccountPage(page, e2e, '/account/two-factor/totp');
  const secret = base32Decode((await page.locator('#totp-key').innerText()).trim());
  await awayFromStepEdge();
  await page.getByLabel('Code from the app').fill(totpCode(secret, stepAt() - 1));
  await page.getByLabel('Current password').fill(user.password);
  expect(await navigation(page, () => page.getByRole('button', { name: 'Turn on two-step sign-in' }).click())).toBe(
    200,
  );
  return { user, secret };
}

/** Asked for a sign-in code for a new account, on the page where it is typed; the code, from the mail. */
async function codeAsked(page: Page, { app }: E2eSession) {
  const user = await registeredUser(app);
  await page.goto(app.url('/login/code'));
  await page.getByLabel('Email', { exact: true }).fill(user.email);
  expect(await navigation(page, () => page.getByRole('button', { name: 'Email me a code' }).click())).toBe(200);
  expect(pathOf(page)).toBe('/login/code/enter');
  // The mail is written once the code is stored: a code typed after it is checked against it.
  return { user, code: await codeFromMail(app, user.email) };
}

/** Logged in, asked to move to another address, and on the page the notice's cancel link opens. */
async function emailChangeAsked(page: Page, e2e: E2eSession) {
  const user = await onAccountPage(page, e2e, '/account/email');
  await page.getByLabel('New email').fill(uniqueEmail('elsewhere'));
  await page.getByLabel('Current password').fill(user.password);
  expect(await navigation(page, () => page.getByRole('button', { name: 'Change email' }).click())).toBe(200);
  const link = await linkFromMail(e2e.app, user.email, 'email-change-requested');
  expect(link).toContain('/email/change/cancel?token=');
  expect((await page.goto(link))?.status()).toBe(200);
}

for (const colorScheme of ['light', 'dark'] as const) {
  describe(`accessibility (axe-core, WCAG 2.1 A and AA), ${colorScheme} colour scheme`, () => {
    for (const state of STATES) {
      it(`${state.name} has no violations`, async () => {
        const page = await e2e.freshPage({ ...AXE_CONTEXT, colorScheme });
        await state.reach(page, e2e);
        await expectNoAxeViolations(page, `${state.name} (${colorScheme})`);
      });
    }
  });
}
