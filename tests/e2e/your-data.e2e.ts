import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import {
  AXE_CONTEXT,
  SESSION_COOKIE,
  expectNoAxeViolations,
  navigation,
  newUser,
  pathOf,
  signUpWith,
  useAppAndBrowser,
} from './support.js';

// The user's own data in a real browser: the history page, and the export behind a fresh login.

const e2e = useAppAndBrowser();

/** Moves this browser's login `minutes` into the past in the app's database, as time passing would. */
async function loginAgo(page: Page, minutes: number): Promise<void> {
  const cookie = (await page.context().cookies()).find((c) => c.name === SESSION_COOKIE);
  const sid = /^s:(.+)\.[^.]+$/.exec(decodeURIComponent(cookie?.value ?? ''))?.[1];
  if (!sid) throw new Error('the browser holds no session cookie');
  const client = new pg.Client({ connectionString: e2e.app.databaseUrl });
  await client.connect();
  try {
    // The table keeps the SHA-256 of the id, never the id.
    const { rowCount } = await client.query(
      `UPDATE sessions SET sess = jsonb_set(sess::jsonb, '{authAt}', to_jsonb($2::bigint))::json WHERE sid = $1`,
      [createHash('sha256').update(sid).digest('hex'), Date.now() - minutes * 60_000],
    );
    if (rowCount !== 1) throw new Error('no session row to age');
  } finally {
    await client.end();
  }
}

describe('your data in a real browser', () => {
  it('11. an hour after logging in: Your data → confirm with the password → back → the download holds the account', async () => {
    const user = newUser({ name: 'Portable Pia' });
    const page = await e2e.freshPage({ acceptDownloads: true });
    expect(await signUpWith(page, e2e.app, user)).toBe(200);
    await loginAgo(page, 60);

    expect(await navigation(page, () => page.getByRole('link', { name: 'Download your data' }).click())).toBe(200);
    expect(pathOf(page)).toBe('/account/confirm?next=%2Faccount%2Fexport');
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe("Confirm it's you");
    await page.getByLabel('Password', { exact: true }).fill(user.password);
    expect(await navigation(page, () => page.getByRole('button', { name: 'Continue' }).click())).toBe(200);
    expect(pathOf(page)).toBe('/account/export');

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download your data' }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/^gatehouse-data-\d{4}-\d\d-\d\d\.json$/);
    const data = JSON.parse(readFileSync(await download.path(), 'utf8')) as {
      profile: { name: string; email: string };
      activity: Array<{ event: string }>;
    };
    expect(data.profile).toMatchObject({ name: 'Portable Pia', email: user.email });
    expect(data.activity.map((event) => event.event)).toEqual(expect.arrayContaining(['signup', 'login_confirmed']));

    // The download is on the activity page, newest first.
    expect(await navigation(page, () => page.getByRole('link', { name: 'Activity' }).click())).toBe(200);
    await expect(page.locator('.activity-event strong').first().innerText()).resolves.toBe('Your data downloaded');
  });

  it('has no axe violations on the activity, export and confirm pages, light and dark', async () => {
    for (const colorScheme of ['light', 'dark'] as const) {
      const user = newUser();
      const page = await e2e.freshPage({ ...AXE_CONTEXT, colorScheme });
      expect(await signUpWith(page, e2e.app, user)).toBe(200);
      await page.goto(e2e.app.url('/account/activity'));
      await expectNoAxeViolations(page, `activity (${colorScheme})`);
      await page.goto(e2e.app.url('/account/export'));
      await expectNoAxeViolations(page, `export (${colorScheme})`);
      await loginAgo(page, 60);
      await page.goto(e2e.app.url('/account/export'));
      expect(pathOf(page)).toBe('/account/confirm?next=%2Faccount%2Fexport');
      await expectNoAxeViolations(page, `confirm (${colorScheme})`);
      await page.getByLabel('Password', { exact: true }).fill('not my password');
      expect(await navigation(page, () => page.getByRole('button', { name: 'Continue' }).click())).toBe(422);
      await expectNoAxeViolations(page, `confirm, a wrong password (${colorScheme})`);
    }
  });
});
