import type { CDPSession, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { addVirtualAuthenticator } from '../../scripts/chromium.js';
import {
  AXE_CONTEXT,
  type NewUser,
  expectNoAxeViolations,
  logInWith,
  navigation,
  newUser,
  pathOf,
  signUpWith,
  useAppAndBrowser,
} from './support.js';

// Passkeys in a real browser: Chromium's DevTools virtual authenticator stands in for the
// phone or laptop (a platform authenticator with resident keys that verifies its user), and
// the pages' own scripts (the vendored @simplewebauthn/browser and static/passkeys.js) talk
// to it. The app is reached as http://localhost: browsers offer no passkeys on an IP address.

const e2e = useAppAndBrowser();

interface VirtualAuthenticator {
  readonly cdp: CDPSession;
  readonly id: string;
  /** Whether it answers by itself (true at first), as a person touching the sensor would. */
  answering(enabled: boolean): Promise<void>;
  /** The passkeys it holds (resident credentials), as DevTools reports them. */
  credentials(): Promise<Array<{ credentialId: string; isResidentCredential: boolean; signCount: number }>>;
}

/** Attaches a virtual authenticator to the page's browser tab; it answers every request at once. */
async function virtualAuthenticator(page: Page): Promise<VirtualAuthenticator> {
  const { cdp, authenticatorId } = await addVirtualAuthenticator(page);
  return {
    cdp,
    id: authenticatorId,
    answering: async (enabled) => {
      await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled });
    },
    credentials: async () =>
      (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials.map((credential) => ({
        credentialId: credential.credentialId,
        isResidentCredential: credential.isResidentCredential,
        signCount: credential.signCount,
      })),
  };
}

/** On /account/passkeys: names the passkey, types the password, and lets the browser make it. */
async function addPasskey(page: Page, name: string, password: string): Promise<number> {
  await page.getByLabel('Name of the passkey').fill(name);
  await page.getByLabel('Current password', { exact: true }).fill(password);
  return navigation(page, () => page.getByRole('button', { name: 'Add a passkey' }).click());
}

/** Signs `user` up, adds a passkey named `name` on /account/passkeys, and passes the recovery codes it shows ("I have saved them"). */
async function signUpWithPasskey(page: Page, user: NewUser, name: string): Promise<void> {
  expect(await signUpWith(page, e2e.app, user)).toBe(200);
  await page.goto(e2e.app.url('/account/passkeys'));
  expect(await addPasskey(page, name, user.password)).toBe(200);
  expect(await navigation(page, () => page.getByRole('link', { name: 'I have saved them' }).click())).toBe(200);
}

describe('passkeys in a real browser', () => {
  it('9. adds a passkey, logs out, signs in with the button from a protected page, and lands on next', async () => {
    const user = newUser({ name: 'Passkey Pat' });
    const page = await e2e.freshPage();
    const authenticator = await virtualAuthenticator(page);
    expect(await signUpWith(page, e2e.app, user)).toBe(200);

    expect(await navigation(page, () => page.getByRole('link', { name: 'Passkeys' }).click())).toBe(200);
    expect(pathOf(page)).toBe('/account/passkeys');
    // The script found WebAuthn: the form is shown and the "needs JavaScript" note is hidden.
    await expect(page.getByRole('button', { name: 'Add a passkey' }).isVisible()).resolves.toBe(true);
    await expect(page.getByText('Adding a passkey needs a browser').isVisible()).resolves.toBe(false);

    expect(await addPasskey(page, 'Test laptop', user.password)).toBe(200);
    // A first second factor comes with recovery codes, shown once.
    await expect(page.locator('.recovery-codes code').count()).resolves.toBe(10);
    const made = await authenticator.credentials();
    expect(made).toHaveLength(1);
    expect(made[0]?.isResidentCredential).toBe(true);

    await page.goto(e2e.app.url('/account/passkeys'));
    await expect(page.locator('.passkey strong').allInnerTexts()).resolves.toEqual(['Test laptop']);
    await expect(page.locator('.passkey').innerText()).resolves.toContain('not used yet');

    // Every login page from here on starts an autofill request on load; the person ignores the
    // offer and presses the button, which must cancel that request before it starts its own.
    // (The person ignoring the offer is played by holding the pages' conditional requests until
    // they are cancelled, and each request is noted in sessionStorage, which outlives the page.
    // The real autofill is the next test's: Chromium's virtual authenticator would answer the
    // offer itself.)
    await page.addInitScript(() => {
      const entries: Array<{ mediation: string; cancelled: boolean }> = [];
      const note = () => sessionStorage.setItem('ceremonies', JSON.stringify(entries));
      const real = navigator.credentials.get.bind(navigator.credentials);
      navigator.credentials.get = (options?: CredentialRequestOptions) => {
        const entry = { mediation: options?.mediation ?? 'optional', cancelled: false };
        entries.push(entry);
        note();
        options?.signal?.addEventListener('abort', () => {
          entry.cancelled = true;
          note();
        });
        if (options?.mediation !== 'conditional') return real(options);
        return new Promise((_resolve, reject) =>
          options.signal?.addEventListener('abort', () => reject(new DOMException('Cancelled', 'AbortError'))),
        );
      };
    });
    const noted = () => page.evaluate(() => JSON.parse(sessionStorage.getItem('ceremonies') ?? '[]') as unknown[]);
    expect(await navigation(page, () => page.getByRole('button', { name: 'Log out' }).click())).toBe(200);
    await expect.poll(noted).toEqual([{ mediation: 'conditional', cancelled: false }]);
    await page.evaluate(() => sessionStorage.clear());

    await page.goto(e2e.app.url('/account/sessions'));
    expect(pathOf(page)).toBe('/login?next=%2Faccount%2Fsessions');
    await expect(page.getByLabel('Email', { exact: true }).getAttribute('autocomplete')).resolves.toBe(
      'username webauthn',
    );
    await expect.poll(noted).toEqual([{ mediation: 'conditional', cancelled: false }]);
    expect(await navigation(page, () => page.getByRole('button', { name: 'Sign in with a passkey' }).click())).toBe(
      200,
    );
    expect(await noted()).toEqual([
      { mediation: 'conditional', cancelled: true },
      { mediation: 'optional', cancelled: false },
    ]);
    expect(pathOf(page)).toBe('/account/sessions');
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Your sessions');
    // A passkey is a whole login: no second step was asked for, and its use is on the page.
    await page.goto(e2e.app.url('/account/passkeys'));
    await expect(page.locator('.passkey').innerText()).resolves.toContain('last used');
    expect((await authenticator.credentials())[0]?.signCount).toBeGreaterThan(0);
  });

  it('10. completes a password login with "Use a passkey" on the second step', async () => {
    const user = newUser({ name: 'Second Step Sam' });
    const page = await e2e.freshPage();
    const authenticator = await virtualAuthenticator(page);
    await signUpWithPasskey(page, user, 'Phone');
    // The person types their password and passes over the autofill offer on the login pages.
    await authenticator.answering(false);
    expect(await navigation(page, () => page.getByRole('button', { name: 'Log out' }).click())).toBe(200);

    await page.goto(e2e.app.url('/account/email'));
    expect(pathOf(page)).toBe('/login?next=%2Faccount%2Femail');
    expect(await logInWith(page, user.email, user.password)).toBe(200);
    expect(pathOf(page)).toBe('/login/two-factor');
    await authenticator.answering(true);
    expect(await navigation(page, () => page.getByRole('button', { name: 'Use a passkey' }).click())).toBe(200);
    expect(pathOf(page)).toBe('/account/email');
  });

  it('signs in from the autofill offer the login page makes on load, with no click, and lands on next', async () => {
    const user = newUser();
    const page = await e2e.freshPage();
    const authenticator = await virtualAuthenticator(page);
    await signUpWithPasskey(page, user, 'Laptop');
    // The login page after "Log out" makes its own offer: ignored (and left behind) here.
    await authenticator.answering(false);
    expect(await navigation(page, () => page.getByRole('button', { name: 'Log out' }).click())).toBe(200);
    await page.goto('about:blank');
    await authenticator.answering(true);

    // Chromium's virtual authenticator picks its one passkey from the autofill list, as the person would.
    await page.goto(e2e.app.url('/login?next=%2Faccount%2Fpassword'));
    await page.waitForURL((url) => url.pathname === '/account/password', { timeout: 30_000 });
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Change your password');
  });

  it('says so, and keeps the form, when the browser has no passkey for the site', async () => {
    const user = newUser();
    const page = await e2e.freshPage();
    const authenticator = await virtualAuthenticator(page);
    expect(await signUpWith(page, e2e.app, user)).toBe(200);
    expect(await navigation(page, () => page.getByRole('button', { name: 'Log out' }).click())).toBe(200);
    await page.goto(e2e.app.url('/login'));
    // The authenticator has nothing for localhost: the browser refuses, and the page explains.
    expect(await authenticator.credentials()).toHaveLength(0);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    const error = page.locator('[data-passkey-error]');
    await error.waitFor({ state: 'visible', timeout: 60_000 });
    await expect(error.innerText()).resolves.toMatch(/passkey/);
    expect(pathOf(page)).toBe('/login');
    // The password still works.
    expect(await logInWith(page, user.email, user.password)).toBe(200);
    expect(pathOf(page)).toBe('/');
  });

  it('has no axe violations on the passkeys page, light and dark, empty, listed and with an error', async () => {
    for (const colorScheme of ['light', 'dark'] as const) {
      const user = newUser();
      const page = await e2e.freshPage({ ...AXE_CONTEXT, colorScheme });
      const authenticator = await virtualAuthenticator(page);
      expect(await signUpWith(page, e2e.app, user)).toBe(200);
      await page.goto(e2e.app.url('/account/passkeys'));
      await expectNoAxeViolations(page, `passkeys, none yet (${colorScheme})`);
      expect(await addPasskey(page, 'Laptop', 'not my password')).toBe(422);
      await expectNoAxeViolations(page, `passkeys, a wrong password (${colorScheme})`);
      expect(await addPasskey(page, 'Laptop', user.password)).toBe(200);
      await page.goto(e2e.app.url('/account/passkeys'));
      await expectNoAxeViolations(page, `passkeys, one listed (${colorScheme})`);
      await authenticator.answering(false);
      expect(await navigation(page, () => page.getByRole('button', { name: 'Log out' }).click())).toBe(200);
      await page.goto(e2e.app.url('/login'));
      await expect(page.getByRole('button', { name: 'Sign in with a passkey' }).isVisible()).resolves.toBe(true);
      await expectNoAxeViolations(page, `login with the passkey button (${colorScheme})`);
    }
  });
});
