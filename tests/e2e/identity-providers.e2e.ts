import type { BrowserContextOptions, Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { type TestOidcProvider, startOidcProvider } from '../support/identity-provider.js';
import { freePort } from '../support/processes.js';
import {
  AXE_CONTEXT,
  expectNoAxeViolations,
  navigation,
  pathOf,
  registeredUser,
  signUpWith,
  newUser,
  uniqueEmail,
  useAppAndBrowser,
} from './support.js';

// Signing in with an identity provider in a real browser (issue 21): Chromium goes to a real
// OpenID Connect provider (oidc-provider, on 127.0.0.1), signs in on the provider's own login
// page, agrees on its consent page, and comes back to the app.

let idp: TestOidcProvider | undefined;
const e2e = useAppAndBrowser(async () => {
  const port = await freePort();
  idp = await startOidcProvider(['acme'], `http://localhost:${port}`);
  return { port, env: { OIDC_PROVIDERS: 'acme', OIDC_ACME_LABEL: 'Acme ID', ...idp.env('acme') } };
});
afterAll(async () => {
  await idp?.close();
});

const PROTECTED = '/account/sessions';

/** A page whose requests beyond this machine fail at once (the provider's dev pages import a web font). */
async function localPage(options: BrowserContextOptions = {}): Promise<Page> {
  const page = await e2e.freshPage(options);
  await page.context().route('https://**/*', (route) => route.abort());
  return page;
}

/** From a protected page, logged out: the login page, then "Continue with Acme ID"; the provider's login page. */
async function continueWithAcme(page: Page): Promise<void> {
  await page.goto(e2e.app.url(PROTECTED));
  expect(pathOf(page)).toBe(`/login?next=${encodeURIComponent(PROTECTED)}`);
  expect(await navigation(page, () => page.getByRole('button', { name: 'Continue with Acme ID' }).click())).toBe(200);
  expect(new URL(page.url()).origin).toBe(idp?.issuer);
  await expect(page.locator('h1').innerText()).resolves.toBe('Sign-in');
}

describe('a journey through the provider own login page', () => {
  it('a new person continues with Acme ID, signs in there, agrees, and lands logged in on the page asked for', async () => {
    const email = uniqueEmail('e2e-idp');
    idp?.people.set('e2e-grace', { email, email_verified: true, name: 'Grace Hopper' });
    const page = await localPage();
    await continueWithAcme(page);

    await page.locator('input[name="login"]').fill('e2e-grace');
    await page.locator('input[name="password"]').fill('any password at all');
    expect(await navigation(page, () => page.getByRole('button', { name: 'Sign-in' }).click())).toBe(200);
    // The provider asks whether to share the address and name with the app.
    await expect(page.locator('h1').innerText()).resolves.toBe('Authorize');
    expect(await navigation(page, () => page.getByRole('button', { name: 'Continue' }).click())).toBe(200);

    expect(pathOf(page)).toBe(PROTECTED);
    await expect(page.locator('.nav-user').innerText()).resolves.toContain('Grace Hopper');

    // Back another time, with the provider's session still open: straight in.
    await page.goto(e2e.app.url('/'));
    expect(await navigation(page, () => page.getByRole('button', { name: 'Log out' }).click())).toBe(200);
    await page.goto(e2e.app.url(PROTECTED));
    await page.getByRole('button', { name: 'Continue with Acme ID' }).click();
    await page.waitForURL((url) => url.pathname === PROTECTED);
    await expect(page.locator('.nav-user').innerText()).resolves.toContain('Grace Hopper');
  });

  it('Cancel on the provider page lands on the login page with a message', async () => {
    const page = await localPage();
    await continueWithAcme(page);
    expect(await navigation(page, () => page.getByRole('link', { name: '[ Cancel ]' }).click())).toBe(200);
    expect(pathOf(page)).toBe(`/login?next=${encodeURIComponent(PROTECTED)}`);
    await expect(page.locator('.flash').innerText()).resolves.toContain('Signing in with Acme ID was cancelled');
  });

  it('an address an account already has: the page says to log in and connect, and passes axe; so do the buttons and the security page', async () => {
    const owner = await registeredUser(e2e.app);
    idp?.people.set('e2e-squatted', { email: owner.email, email_verified: true, name: 'Not the owner' });
    // axe's script is injected inline: these pages are checked with the CSP bypassed (the journeys above are not).
    const page = await localPage(AXE_CONTEXT);
    await page.goto(e2e.app.url('/login'));
    await expectNoAxeViolations(page, 'the login page with a provider button');
    expect(await navigation(page, () => page.getByRole('button', { name: 'Continue with Acme ID' }).click())).toBe(200);
    await page.locator('input[name="login"]').fill('e2e-squatted');
    await page.locator('input[name="password"]').fill('any password at all');
    await navigation(page, () => page.getByRole('button', { name: 'Sign-in' }).click());
    const status = await navigation(page, () => page.getByRole('button', { name: 'Continue' }).click());
    expect(status).toBe(409);
    await expect(page.locator('h1').innerText()).resolves.toBe('You already have an account');
    await expectNoAxeViolations(page, 'the address-taken page');

    const member = await localPage(AXE_CONTEXT);
    await signUpWith(member, e2e.app, newUser());
    await member.goto(e2e.app.url('/account/security'));
    await expect(member.getByRole('button', { name: 'Connect Acme ID' }).count()).resolves.toBe(1);
    await expectNoAxeViolations(member, 'the security page with a provider to connect');
  });
});
