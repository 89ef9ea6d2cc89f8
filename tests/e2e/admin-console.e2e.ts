import { describe, expect, it } from 'vitest';
import { USERS_CLI, killGroup, run, tempDir, within } from '../support/processes.js';
import { awayFromStepEdge, base32Decode, stepAt, totpCode } from '../support/totp.js';
import {
  AXE_CONTEXT,
  expectNoAxeViolations,
  logInWith,
  navigation,
  newUser,
  pathOf,
  registeredUser,
  signUpWith,
  useAppAndBrowser,
} from './support.js';

// The admin console in a real browser (issue 23): an admin made by the command sets up the app,
// finds a user and signs them out everywhere, by mouse and by keyboard, axe-clean in both colour
// schemes.

const e2e = useAppAndBrowser();

/** `npm run users -- …` against the e2e app's database; its standard output. */
async function users(args: string[]): Promise<string> {
  const command = run(
    USERS_CLI,
    { NODE_ENV: 'test', BCRYPT_COST: '4', DATABASE_URL: e2e.app.databaseUrl, DATA_DIR: e2e.app.dataDir },
    tempDir(),
    args,
  );
  try {
    const { code } = await within(60_000, `users ${args.join(' ')}`, command.exited);
    expect(code, command.out.stderr).toBe(0);
    return command.out.stdout;
  } finally {
    killGroup(command.child);
  }
}

for (const colorScheme of ['light', 'dark'] as const) {
  describe(`the admin console, ${colorScheme} colour scheme`, () => {
    it('grant by the command, set up the app, find a user, end their sessions; every page axe-clean', async () => {
      const target = await registeredUser(e2e.app, { name: 'Signed-in Sam' });
      const targetPage = await e2e.freshPage();
      await targetPage.goto(e2e.app.url('/login'));
      expect(await logInWith(targetPage, target.email, target.password)).toBe(200);

      const admin = newUser({ name: 'Admin Ada' });
      const page = await e2e.freshPage({ ...AXE_CONTEXT, colorScheme, viewport: { width: 390, height: 844 } });
      expect(await signUpWith(page, e2e.app, admin)).toBe(200);
      expect(await users(['admin:grant', admin.email])).toContain('is now an admin');

      // No second factor yet: the console says to set one up, and nothing else.
      await page.goto(e2e.app.url('/admin/users'));
      await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Set up a second factor first');
      await expectNoAxeViolations(page, 'console: second factor first');
      expect(await navigation(page, () => page.getByRole('link', { name: 'Set up a second factor' }).click())).toBe(
        200,
      );
      expect(
        await navigation(page, () => page.getByRole('link', { name: 'Set up an authenticator app' }).click()),
      ).toBe(200);
      const secret = base32Decode((await page.locator('#totp-key').innerText()).trim());
      await awayFromStepEdge();
      await page.getByLabel('Code from the app').fill(totpCode(secret, stepAt() - 1));
      await page.getByLabel('Current password').fill(admin.password);
      expect(await navigation(page, () => page.getByRole('button', { name: 'Turn on two-step sign-in' }).click())).toBe(
        200,
      );

      // Find the user, by keyboard: type the start of their name, Enter.
      await page.goto(e2e.app.url('/admin/users'));
      expect(pathOf(page)).toBe('/admin/users');
      await expectNoAxeViolations(page, 'console: users');
      await page.getByLabel('Email or name starts with').fill('signed-in s');
      expect(await navigation(page, () => page.keyboard.press('Enter'))).toBe(200);
      expect(pathOf(page)).toBe('/admin/users?q=signed-in+s');
      const link = page.getByRole('link', { name: target.email });
      await expect(link.count()).resolves.toBe(1);
      await expectNoAxeViolations(page, 'console: search results');
      expect(await navigation(page, () => link.click())).toBe(200);
      await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe(target.email);
      await expectNoAxeViolations(page, 'console: account');

      // End their sessions: a confirmation naming the account first.
      expect(await navigation(page, () => page.getByRole('link', { name: 'Sign out every session' }).click())).toBe(
        200,
      );
      await expect(page.getByText(target.email).first().isVisible()).resolves.toBe(true);
      await expectNoAxeViolations(page, 'console: confirmation');
      const confirm = page.getByRole('button', { name: `Sign out every session for ${target.email}` });
      await confirm.focus();
      expect(await navigation(page, () => page.keyboard.press('Enter'))).toBe(200);
      await expect(page.getByText('Every session of the account was signed out').isVisible()).resolves.toBe(true);
      await expect(page.getByText('No open session.').isVisible()).resolves.toBe(true);
      await expectNoAxeViolations(page, 'console: after the action');

      // The user's browser is signed out.
      await targetPage.goto(e2e.app.url('/account'));
      expect(pathOf(targetPage)).toBe('/login?next=%2Faccount');

      // The audit trail shows it, with the admin.
      await page.goto(e2e.app.url(`/admin/events?kind=sessions_ended`));
      await expect(page.getByRole('link', { name: admin.email }).first().isVisible()).resolves.toBe(true);
      await expectNoAxeViolations(page, 'console: audit trail');

      // Usable on a phone: nothing wider than the screen.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
    });
  });
}
