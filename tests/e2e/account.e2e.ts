import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import {
  type NewUser,
  detail,
  logInWith,
  navigation,
  newUser,
  pathOf,
  registeredUser,
  signUpWith,
  useAppAndBrowser,
} from './support.js';

const e2e = useAppAndBrowser();

const BAD_LOGIN = 'Invalid email/password combination.';
const FIREFOX_ON_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
const SAFARI_ON_MAC =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';

/** Opens the login page in `context` and logs `user` in; the page, on the dashboard. */
async function loggedInPage(context: BrowserContext, user: NewUser): Promise<Page> {
  const page = await context.newPage();
  await page.goto(e2e.app.url('/login'));
  expect(await logInWith(page, user.email, user.password)).toBe(200);
  expect(pathOf(page)).toBe('/');
  return page;
}

/** Whether a flash (or any text) reading exactly `text` is shown. */
const shows = (page: Page, text: string) => page.getByText(text, { exact: true }).isVisible();

describe('account pages in a real browser', () => {
  it('1. a new user opens Account from the nav, changes name and website, and sees them on the dashboard', async () => {
    const page = await e2e.freshPage();
    expect(await signUpWith(page, e2e.app, newUser({ name: 'Ada Lovelace' }))).toBe(200);

    const main = page.getByRole('navigation', { name: 'Main' });
    expect(await navigation(page, () => main.getByRole('link', { name: 'Account' }).click())).toBe(200);
    expect(pathOf(page)).toBe('/account');
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Your profile');
    const profileTab = page.getByRole('navigation', { name: 'Account' }).getByRole('link', { name: 'Profile' });
    await expect(profileTab.getAttribute('aria-current')).resolves.toBe('page');
    await expect(page.getByLabel('Name', { exact: true }).inputValue()).resolves.toBe('Ada Lovelace');
    await expect(page.getByLabel('Website').inputValue()).resolves.toBe('');

    await page.getByLabel('Name', { exact: true }).fill('Augusta Ada King');
    await page.getByLabel('Website').fill('https://ada.example/notes?on=engine&g=1');
    // Enter in a field sends the form, as it does for a person.
    expect(await navigation(page, () => page.getByLabel('Website').press('Enter'))).toBe(200);
    expect(pathOf(page)).toBe('/account');
    expect(await shows(page, 'Your profile was saved.'), 'the flash says the profile was saved').toBe(true);
    await expect(page.getByLabel('Name', { exact: true }).inputValue()).resolves.toBe('Augusta Ada King');
    await expect(main.innerText()).resolves.toContain('Signed in as Augusta Ada King');

    expect(await navigation(page, () => main.getByRole('link', { name: 'Gatehouse' }).click())).toBe(200);
    expect(pathOf(page)).toBe('/');
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Hello, Augusta Ada King');
    await expect(detail(page, 'Name').innerText()).resolves.toBe('Augusta Ada King');
    const website = detail(page, 'Website').getByRole('link');
    await expect(website.getAttribute('href')).resolves.toBe('https://ada.example/notes?on=engine&g=1');
    await expect(website.innerText()).resolves.toBe('https://ada.example/notes?on=engine&g=1');
  });

  it('2. changing the password in one browser signs the other out at its next page, and keeps this one in', async () => {
    const user = await registeredUser(e2e.app, { name: 'Two Browsers Tom' });
    const first = await loggedInPage(await e2e.newContext(), user);
    const second = await loggedInPage(await e2e.newContext(), user);

    await first.goto(e2e.app.url('/account'));
    const accountNav = first.getByRole('navigation', { name: 'Account' });
    expect(await navigation(first, () => accountNav.getByRole('link', { name: 'Password' }).click())).toBe(200);
    expect(pathOf(first)).toBe('/account/password');
    const newPassword = 'a brand new passphrase 2';
    await first.getByLabel('Current password').fill(user.password);
    await first.getByLabel('New password', { exact: true }).fill(newPassword);
    await first.getByLabel('Confirm new password').fill(newPassword);
    expect(await navigation(first, () => first.getByRole('button', { name: 'Change password' }).click())).toBe(200);
    expect(pathOf(first)).toBe('/account');
    const changed = 'Your password was changed, and every other session of your account has been signed out.';
    expect(await shows(first, changed), `the flash says "${changed}"`).toBe(true);

    // The second browser still shows the dashboard; its next navigation asks it to log in.
    expect(await navigation(second, () => second.getByRole('link', { name: 'Account', exact: true }).click())).toBe(
      200,
    );
    expect(pathOf(second)).toBe('/login?next=%2Faccount');
    const loginRequired = 'You must be logged in to view that page.';
    expect(await shows(second, loginRequired), `the second browser is told "${loginRequired}"`).toBe(true);

    // The first stays logged in, on page after page.
    await first.goto(e2e.app.url('/'));
    expect(pathOf(first)).toBe('/');
    await expect(detail(first, 'Email').innerText()).resolves.toContain(user.email);
    await first.reload();
    expect(pathOf(first)).toBe('/');

    // And the second gets back in with the new password only.
    expect(await logInWith(second, user.email, user.password)).toBe(422);
    expect(await shows(second, BAD_LOGIN)).toBe(true);
    expect(await logInWith(second, user.email, newPassword)).toBe(200);
    expect(pathOf(second)).toBe('/account');
  });

  it('3. "Your sessions" lists both browsers, marks this one, and signs the other out', async () => {
    // Signed up in Firefox (so that is the first session), then logged in from Safari.
    const user = newUser({ name: 'Session Sam' });
    const firefox = await (await e2e.newContext({ userAgent: FIREFOX_ON_LINUX })).newPage();
    expect(await signUpWith(firefox, e2e.app, user)).toBe(200);
    const safari = await loggedInPage(await e2e.newContext({ userAgent: SAFARI_ON_MAC }), user);

    expect(await navigation(firefox, () => firefox.getByRole('link', { name: 'Your sessions' }).click())).toBe(200);
    expect(pathOf(firefox)).toBe('/account/sessions');
    await expect(firefox.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Your sessions');
    const sessions = firefox.locator('ul.sessions > li');
    await expect(sessions.count()).resolves.toBe(2);
    const thisOne = sessions.filter({ hasText: 'This browser' });
    await expect(thisOne.count()).resolves.toBe(1);
    await expect(thisOne.innerText()).resolves.toMatch(/Firefox 133 on Linux/);
    const other = sessions.filter({ hasNotText: 'This browser' });
    await expect(other.innerText()).resolves.toMatch(/Safari 17 on macOS/);
    await expect(other.innerText()).resolves.toContain('127.0.0.1');
    await expect(firefox.getByRole('button', { name: 'Sign out everywhere else' }).isVisible()).resolves.toBe(true);

    const signOutSafari = other.getByRole('button', { name: /^Sign out Safari 17 on macOS/ });
    expect(await navigation(firefox, () => signOutSafari.click())).toBe(200);
    expect(pathOf(firefox)).toBe('/account/sessions');
    expect(await shows(firefox, 'That session has been signed out.')).toBe(true);
    await expect(sessions.count()).resolves.toBe(1);
    await expect(sessions.innerText()).resolves.toContain('This browser');
    expect(await shows(firefox, 'No other browser is signed in.')).toBe(true);

    // Safari is logged out; Firefox is not.
    await safari.reload();
    expect(pathOf(safari)).toBe('/login?next=%2F');
    await firefox.goto(e2e.app.url('/'));
    expect(pathOf(firefox)).toBe('/');
  });

  it('4. deleting the account takes the password and the checkbox, lands on the login page, and the login is gone', async () => {
    const user = await registeredUser(e2e.app, { name: 'Departing Dora' });
    const page = await loggedInPage(await e2e.newContext(), user);

    expect(await navigation(page, () => page.getByRole('link', { name: 'Delete account' }).click())).toBe(200);
    expect(pathOf(page)).toBe('/account/delete');
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Delete your account');

    await page.getByLabel('Your password').fill(user.password);
    await page.getByLabel('I understand that my account will be deleted for good').check();
    expect(await navigation(page, () => page.getByRole('button', { name: 'Delete my account' }).click())).toBe(200);
    expect(pathOf(page)).toBe('/login');
    const goodbye = 'Your account and its sessions have been deleted. Goodbye.';
    expect(await shows(page, goodbye), `the login page says "${goodbye}"`).toBe(true);
    await expect(page.getByRole('button', { name: 'Log out' }).count()).resolves.toBe(0);

    expect(await logInWith(page, user.email, user.password)).toBe(422);
    expect(pathOf(page)).toBe('/login');
    expect(await shows(page, BAD_LOGIN), `the login page says "${BAD_LOGIN}"`).toBe(true);
    await page.goto(e2e.app.url('/'));
    expect(pathOf(page)).toBe('/login?next=%2F');
  });
});
