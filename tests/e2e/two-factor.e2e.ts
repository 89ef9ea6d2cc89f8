import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { awayFromStepEdge, base32Decode, stepAt, totpCode } from '../support/totp.js';
import { logInWith, navigation, newUser, pathOf, signUpWith, useAppAndBrowser } from './support.js';

// Two-step sign-in in a real browser: the person reads the key off the page as their phone
// would (the tests' own RFC 6238 code stands in for the phone).

const e2e = useAppAndBrowser();

describe('two-step sign-in in a real browser', () => {
  it('8. sets up an authenticator app, saves the recovery codes, then logs in with a code and lands on next', async () => {
    const user = newUser({ name: 'Careful Cai' });
    const page = await e2e.freshPage({ acceptDownloads: true });
    expect(await signUpWith(page, e2e.app, user)).toBe(200);

    expect(await navigation(page, () => page.getByRole('link', { name: 'Two-step sign-in' }).click())).toBe(200);
    expect(pathOf(page)).toBe('/account/security');
    expect(await navigation(page, () => page.getByRole('link', { name: 'Set up an authenticator app' }).click())).toBe(
      200,
    );
    expect(pathOf(page)).toBe('/account/two-factor/totp');
    const qr = page.getByRole('img', { name: /QR code/ });
    await expect(qr.isVisible()).resolves.toBe(true);
    // The image is inline: no request for it left the page.
    await expect(
      qr.evaluate((img) => (img as unknown as { src: string }).src.startsWith('data:image/svg+xml')),
    ).resolves.toBe(true);
    const key = (await page.locator('#totp-key').innerText()).trim();
    expect(key).toMatch(/^([A-Z2-7]{4} ){7}[A-Z2-7]{4}$/);
    const secret = base32Decode(key);

    await awayFromStepEdge();
    await page.getByLabel('Code from the app').fill(totpCode(secret, stepAt() - 1));
    await page.getByLabel('Current password').fill(user.password);
    expect(await navigation(page, () => page.getByRole('button', { name: 'Turn on two-step sign-in' }).click())).toBe(
      200,
    );
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Two-step sign-in is on');
    const codes = await page.locator('.recovery-codes code').allInnerTexts();
    expect(codes).toHaveLength(10);

    // The .txt download carries the same codes.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download as .txt' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('gatehouse-recovery-codes.txt');
    const saved = readFileSync(await download.path(), 'utf8');
    for (const code of codes) expect(saved).toContain(code);

    expect(await navigation(page, () => page.getByRole('link', { name: 'I have saved them' }).click())).toBe(200);
    await expect(page.locator('.badge').first().innerText()).resolves.toBe('On');
    expect(await navigation(page, () => page.getByRole('button', { name: 'Log out' }).click())).toBe(200);

    // Back from a protected page: the password, then the code, then the page asked for.
    await page.goto(e2e.app.url('/account/sessions'));
    expect(pathOf(page)).toBe('/login?next=%2Faccount%2Fsessions');
    expect(await logInWith(page, user.email, user.password)).toBe(200);
    expect(pathOf(page)).toBe('/login/two-factor');
    await expect(page.getByLabel('Code').getAttribute('autocomplete')).resolves.toBe('one-time-code');
    await awayFromStepEdge();
    await page.getByLabel('Code').fill(totpCode(secret, stepAt()));
    expect(await navigation(page, () => page.getByRole('button', { name: 'Continue' }).click())).toBe(200);
    expect(pathOf(page)).toBe('/account/sessions');

    // And a recovery code works once, from another browser.
    const other = await e2e.freshPage();
    await other.goto(e2e.app.url('/login'));
    expect(await logInWith(other, user.email, user.password)).toBe(200);
    expect(await navigation(other, () => other.getByRole('link', { name: 'Use a recovery code' }).click())).toBe(200);
    await other.getByLabel('Recovery code').fill(codes[0] ?? '');
    expect(await navigation(other, () => other.getByRole('button', { name: 'Continue' }).click())).toBe(200);
    expect(pathOf(other)).toBe('/');
    await expect(other.getByText('You have 9 recovery codes left.').isVisible()).resolves.toBe(true);
  });
});
