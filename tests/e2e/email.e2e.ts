import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  detail,
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

// The links come from the development outbox: the app runs with no SMTP_URL, so each message is
// an .eml file in DATA_DIR/outbox, written by its mail worker a moment after the request.

const e2e = useAppAndBrowser();

const BAD_LOGIN = 'Invalid email/password combination.';
const LINK_SENT = 'If an account exists for that address, we have sent a link.';
const BANNER = 'Confirm your email address';

describe('mail journeys in a real browser', () => {
  it('5. forgot password: the link from the mail sets a new password and logs in; the old one stops working', async () => {
    const user = await registeredUser(e2e.app, { name: 'Forgetful Fay' });
    const page = await e2e.freshPage();
    await page.goto(e2e.app.url('/login'));

    expect(await navigation(page, () => page.getByRole('link', { name: 'Forgot your password?' }).click())).toBe(200);
    expect(pathOf(page)).toBe('/password/forgot');
    await page.getByLabel('Email', { exact: true }).fill(user.email);
    expect(await navigation(page, () => page.getByLabel('Email', { exact: true }).press('Enter'))).toBe(200);
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Check your email');
    await expect(page.getByRole('status').innerText()).resolves.toBe(LINK_SENT);

    const link = await linkFromMail(e2e.app, user.email, 'password-reset');
    const token = new URL(link).searchParams.get('token') ?? '';
    expect(link.startsWith(`${e2e.app.baseUrl}/password/reset?token=`), link).toBe(true);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const opened = await page.goto(link);
    // The token is out of the address bar (and so out of history) at once.
    expect(pathOf(page)).toBe('/password/reset');
    expect(page.url()).not.toContain(token);
    expect(opened?.status()).toBe(200);
    expect(opened?.headers()['referrer-policy']).toBe('no-referrer');
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Choose a new password');
    await expect(page.locator('.lede').innerText()).resolves.toContain(user.email);

    const newPassword = 'a fresh start 2024';
    await page.getByLabel('New password', { exact: true }).fill(newPassword);
    await page.getByLabel('Confirm new password').fill(newPassword);
    expect(await navigation(page, () => page.getByRole('button', { name: 'Set new password' }).click())).toBe(200);
    expect(pathOf(page)).toBe('/');
    const reset = 'Your password has been reset, and every other session of your account has been signed out.';
    expect(await page.getByText(reset).isVisible(), `the dashboard says "${reset}"`).toBe(true);
    await expect(detail(page, 'Email').innerText()).resolves.toContain(user.email);

    // The link is spent.
    const again = await page.goto(link);
    expect(again?.status()).toBe(400);
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('This link does not work');

    expect(await navigation(page, () => page.getByRole('button', { name: 'Log out' }).click())).toBe(200);
    expect(pathOf(page)).toBe('/login');
    expect(await logInWith(page, user.email, user.password)).toBe(422);
    expect(await page.getByText(BAD_LOGIN).isVisible(), `the old password gets "${BAD_LOGIN}"`).toBe(true);
    expect(await logInWith(page, user.email, newPassword)).toBe(200);
    expect(pathOf(page)).toBe('/');
  });

  it('a reset link clicked on a webmail page (another site) still opens the form', async () => {
    const user = await registeredUser(e2e.app, { name: 'Webmail Wes' });
    const page = await e2e.freshPage();
    await page.goto(e2e.app.url('/password/forgot'));
    await page.getByLabel('Email', { exact: true }).fill(user.email);
    expect(await navigation(page, () => page.getByRole('button', { name: 'Send me a link' }).click())).toBe(200);
    const link = await linkFromMail(e2e.app, user.email, 'password-reset');

    // The "webmail": a page on another site (localhost and 127.0.0.1 are different sites) with the link.
    const appHost = new URL(e2e.app.baseUrl).hostname;
    const webmail = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><title>Inbox</title><a id="open" href="${link}">Reset your password</a>`);
    });
    await new Promise<void>((resolve) => webmail.listen(0, '127.0.0.1', resolve));
    try {
      const port = (webmail.address() as AddressInfo).port;
      const otherSite = `http://${appHost === 'localhost' ? '127.0.0.1' : 'localhost'}:${port}/`;
      const mailPage = await e2e.freshPage();
      await mailPage.goto(otherSite);
      // A cross-site click: the token's cookie (SameSite=Lax) must reach the page it redirects to.
      expect(await navigation(mailPage, () => mailPage.locator('#open').click())).toBe(200);
      expect(pathOf(mailPage)).toBe('/password/reset');
      await expect(mailPage.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Choose a new password');
      await expect(mailPage.locator('.lede').innerText()).resolves.toContain(user.email);
    } finally {
      await new Promise((resolve) => webmail.close(resolve));
    }
  });

  it('6. a new user sees the banner, follows the link from the mail, and the banner is gone', async () => {
    const user = newUser({ name: 'Verifying Vera' });
    const page = await e2e.freshPage();
    expect(await signUpWith(page, e2e.app, user)).toBe(200);
    const banner = page.getByRole('region', { name: BANNER });
    expect(await banner.isVisible(), 'the dashboard shows the banner').toBe(true);
    await expect(banner.innerText()).resolves.toContain(user.email);
    await expect(banner.getByRole('button', { name: 'Send the link again' }).isVisible()).resolves.toBe(true);

    const link = await linkFromMail(e2e.app, user.email, 'verify-email');
    expect(link.startsWith(`${e2e.app.baseUrl}/email/verify?token=`), link).toBe(true);
    // The link shows a page and changes nothing (mail scanners follow links); its button confirms.
    expect(await navigation(page, () => page.goto(link))).toBe(200);
    await expect(page.getByRole('heading', { name: 'Confirm your email address', level: 1 }).count()).resolves.toBe(1);
    expect(await navigation(page, () => page.getByRole('button', { name: `Confirm ${user.email}` }).click())).toBe(200);
    expect(pathOf(page)).toBe('/');
    const confirmed = 'Your email address is confirmed. Thank you.';
    expect(await page.getByText(confirmed).isVisible(), `the dashboard says "${confirmed}"`).toBe(true);
    await expect(page.getByRole('heading', { name: BANNER }).count()).resolves.toBe(0);
    await expect(detail(page, 'Email').innerText()).resolves.toBe(`${user.email} Confirmed`);

    await page.reload();
    await expect(page.getByRole('heading', { name: BANNER }).count()).resolves.toBe(0);
  });

  it('7. an email change takes effect when the link sent to the new address is followed; then it logs in', async () => {
    const user = await registeredUser(e2e.app, { name: 'Moving Mo' });
    const newEmail = uniqueEmail('moved');
    const page = await e2e.freshPage();
    await page.goto(e2e.app.url('/login'));
    expect(await logInWith(page, user.email, user.password)).toBe(200);

    expect(await navigation(page, () => page.getByRole('link', { name: 'Change email' }).click())).toBe(200);
    expect(pathOf(page)).toBe('/account/email');
    await page.getByLabel('New email').fill(newEmail);
    await page.getByLabel('Current password').fill(user.password);
    expect(await navigation(page, () => page.getByRole('button', { name: 'Change email' }).click())).toBe(200);
    expect(pathOf(page)).toBe('/account/email');
    const sent = `We have sent a link to ${newEmail}. Your address changes when you follow it.`;
    expect(await page.getByText(sent).isVisible(), `the page says "${sent}"`).toBe(true);
    await expect(page.locator('.banner').innerText()).resolves.toContain(newEmail);

    // Not yet: the dashboard still has the old address, and says where the link went.
    await page.goto(e2e.app.url('/'));
    await expect(detail(page, 'Email').innerText()).resolves.toBe(user.email);
    await expect(page.getByRole('region', { name: BANNER }).innerText()).resolves.toContain(newEmail);

    const link = await linkFromMail(e2e.app, newEmail, 'verify-email');
    expect(await navigation(page, () => page.goto(link))).toBe(200);
    expect(await navigation(page, () => page.getByRole('button', { name: `Confirm ${newEmail}` }).click())).toBe(200);
    expect(pathOf(page)).toBe('/');
    const changed = 'Your new email address is confirmed: log in with it from now on.';
    expect(await page.getByText(changed).isVisible(), `the dashboard says "${changed}"`).toBe(true);
    await expect(detail(page, 'Email').innerText()).resolves.toBe(`${newEmail} Confirmed`);
    await expect(page.getByRole('heading', { name: BANNER }).count()).resolves.toBe(0);

    expect(await navigation(page, () => page.getByRole('button', { name: 'Log out' }).click())).toBe(200);
    expect(await logInWith(page, user.email, user.password)).toBe(422);
    expect(await page.getByText(BAD_LOGIN).isVisible(), 'the old address no longer logs in').toBe(true);
    expect(await logInWith(page, newEmail, user.password)).toBe(200);
    expect(pathOf(page)).toBe('/');
    await expect(detail(page, 'Email').innerText()).resolves.toBe(`${newEmail} Confirmed`);
  });
});
