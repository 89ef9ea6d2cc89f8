import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import {
  AXE_CONTEXT,
  type E2eSession,
  LOGIN_FAILURES_PER_ACCOUNT,
  expectNoAxeViolations,
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
      await page.locator('input[name="_csrf"]').evaluate((input: HTMLInputElement) => {
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
];

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
