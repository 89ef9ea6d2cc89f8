import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import {
  SESSION_COOKIE,
  detail,
  logInWith,
  navigation,
  newUser,
  pathOf,
  registeredUser,
  signUpWith,
  stateAfterRestart,
  uniqueEmail,
  useAppAndBrowser,
} from './support.js';

const e2e = useAppAndBrowser();
const freshPage = e2e.freshPage;

const LOGIN_REQUIRED = 'You must be logged in to view that page.';
const BAD_LOGIN = 'Invalid email/password combination.';
const thisYear = String(new Date().getUTCFullYear());

describe('journeys in a real browser', () => {
  it('1. a visitor signs up and lands on the dashboard that shows their details', async () => {
    const page = await freshPage();
    const user = newUser({
      name: 'Grace Hopper',
      email: `Grace.${uniqueEmail('hopper')}`,
      website: 'https://grace.example/cobol?lang=en&page=2',
    });

    expect(await signUpWith(page, e2e.app, user)).toBe(200);

    expect(pathOf(page)).toBe('/');
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toContain('Grace Hopper');
    await expect(detail(page, 'Name').innerText()).resolves.toBe('Grace Hopper');
    await expect(detail(page, 'Email').innerText()).resolves.toBe(user.email.toLowerCase());
    const website = detail(page, 'Website').getByRole('link');
    await expect(website.getAttribute('href')).resolves.toBe(user.website);
    await expect(website.innerText()).resolves.toBe(user.website);
    await expect(detail(page, 'Member since').innerText()).resolves.toContain(thisYear);
    await expect(detail(page, 'Last login').innerText()).resolves.toContain(thisYear);
  });

  it('2. a returning user logs in; a wrong password shows the message and keeps the email typed', async () => {
    const user = await registeredUser(e2e.app, { name: 'Returning Rita' });
    const page = await freshPage();
    await page.goto(e2e.app.url('/login'));

    expect(await logInWith(page, user.email, 'not the password at all')).toBe(422);
    expect(pathOf(page)).toBe('/login');
    expect(await page.getByText(BAD_LOGIN).isVisible(), `the login page says "${BAD_LOGIN}"`).toBe(true);
    await expect(page.locator('input[name="email"]').inputValue()).resolves.toBe(user.email);
    await expect(page.locator('input[name="password"]').inputValue()).resolves.toBe('');

    // The email is still there: typing the right password is enough.
    await page.locator('input[name="password"]').fill(user.password);
    const status = await navigation(page, () => page.getByRole('button', { name: 'Log in', exact: true }).click());
    expect(status).toBe(200);
    expect(pathOf(page)).toBe('/');
    await expect(detail(page, 'Email').innerText()).resolves.toBe(user.email);
  });

  it('3. a logged-out visitor who opens /?tab=2 is sent to log in and lands back on /?tab=2', async () => {
    const user = await registeredUser(e2e.app);
    const page = await freshPage();

    await page.goto(e2e.app.url('/?tab=2'));
    expect(pathOf(page)).toBe(`/login?next=${encodeURIComponent('/?tab=2')}`);
    expect(await page.getByText(LOGIN_REQUIRED).isVisible(), `the login page says "${LOGIN_REQUIRED}"`).toBe(true);

    expect(await logInWith(page, user.email, user.password)).toBe(200);
    expect(pathOf(page)).toBe('/?tab=2');
    await expect(detail(page, 'Email').innerText()).resolves.toBe(user.email);
  });

  it('4. after logging out with the button, Back does not show the dashboard again and reloading asks to log in', async () => {
    const user = await registeredUser(e2e.app, { name: 'Leaving Lena' });
    const page = await freshPage();
    await page.goto(e2e.app.url('/login'));
    await logInWith(page, user.email, user.password);
    const dashboard = await page.reload();
    expect(dashboard?.headers()['cache-control']).toBe('no-store');
    await expect(detail(page, 'Email').innerText()).resolves.toBe(user.email);

    expect(await navigation(page, () => page.getByRole('button', { name: 'Log out' }).click())).toBe(200);
    expect(pathOf(page)).toBe('/login');

    await page.goBack({ waitUntil: 'load' });
    // Not from the back/forward cache nor the HTTP cache: the server was asked again and said "log in".
    expect(pathOf(page)).toBe('/login?next=%2F');
    await expect(page.getByRole('button', { name: 'Log in', exact: true }).isVisible()).resolves.toBe(true);
    await expect(page.getByText(user.email).count()).resolves.toBe(0);
    await expect(page.getByText('Leaving Lena').count()).resolves.toBe(0);

    await page.reload({ waitUntil: 'load' });
    expect(pathOf(page)).toBe('/login?next=%2F');
    await expect(page.getByRole('button', { name: 'Log in', exact: true }).isVisible()).resolves.toBe(true);
    await expect(page.getByText(user.email).count()).resolves.toBe(0);

    // And the dashboard itself, asked for directly, is a login page too.
    await page.goto(e2e.app.url('/'));
    expect(pathOf(page)).toBe('/login?next=%2F');
  });

  it('5. with "remember me" the session survives closing and reopening the browser; without it, it does not', async () => {
    const user = await registeredUser(e2e.app);
    const closeAndReopen = async (remember: boolean): Promise<Page> => {
      const before = await e2e.newContext();
      const page = await before.newPage();
      await page.goto(e2e.app.url('/login'));
      expect(await logInWith(page, user.email, user.password, remember)).toBe(200);
      expect(pathOf(page)).toBe('/');

      const cookie = (await before.cookies()).find((c) => c.name === SESSION_COOKIE);
      if (remember) expect(cookie?.expires).toBeGreaterThan(Date.now() / 1000 + 29 * 24 * 60 * 60);
      else expect(cookie?.expires).toBe(-1); // a session cookie: it ends with the browser

      const saved = await stateAfterRestart(before);
      await before.close();
      const after = await e2e.newContext({ storageState: saved });
      const reopened = await after.newPage();
      await reopened.goto(e2e.app.url('/'));
      return reopened;
    };

    const remembered = await closeAndReopen(true);
    expect(pathOf(remembered)).toBe('/');
    await expect(detail(remembered, 'Email').innerText()).resolves.toBe(user.email);

    const forgotten = await closeAndReopen(false);
    expect(pathOf(forgotten)).toBe('/login?next=%2F');
    await expect(forgotten.getByRole('button', { name: 'Log in', exact: true }).isVisible()).resolves.toBe(true);
  });
});
