import { expect } from 'vitest';
import { createLogger } from '../../src/http/logging.js';
import { buildServices } from '../../src/services.js';
import { Browser as BrowserClass, type Browser } from './browser.js';
import { inputValue } from './pages.js';
import type { TestApp } from './test-app.js';
import { enrolledUser } from './two-factor.js';

/**
 * The admin console as the tests drive it. An admin is made the way the admin command makes one
 * (its flow, admin:grant's, on the app's own database: users-cli.test.ts runs the command itself).
 */
export async function grantAdmin(t: TestApp, email: string, admin = true): Promise<void> {
  const { admin: accounts } = buildServices({
    config: t.config,
    pool: t.pool,
    secrets: t.config.sessionSecrets,
    mailer: t.mailer,
    logger: createLogger('silent'),
  });
  const result = await accounts.setAdmin(email, admin);
  if (!result.ok) throw new Error(`no user ${email} to make an admin`);
}

/** A user with the authenticator app, made an admin, logged in (just now) in `browser`. */
export async function consoleAdmin(t: TestApp) {
  const user = await enrolledUser(t);
  await grantAdmin(t, user.email);
  return user;
}

/** Opens the action's confirmation page (expects it) and confirms it, as an admin does; the POST's answer. */
export async function confirmAction(browser: Browser, accountId: string, action: string, passkey?: string) {
  const page = `/admin/users/${accountId}/${action}${passkey ? `?passkey=${passkey}` : ''}`;
  const confirmation = await browser.get(page);
  expect(confirmation.status, confirmation.text.slice(0, 300)).toBe(200);
  const confirm = inputValue(confirmation.text, 'confirm') ?? '';
  return browser.submit(page, `/admin/users/${accountId}/${action}`, {
    confirm,
    ...(passkey ? { passkey } : {}),
  });
}

/** The audit rows naming an actor: [event, account id, actor id], oldest first. */
export const actedRows = async (t: TestApp, accountId: string) =>
  (
    await t.pool.query<{ event: string; user_id: string; actor_id: string | null; detail: string | null }>(
      `SELECT event, user_id::text AS user_id, actor_id::text AS actor_id, detail FROM auth_events
        WHERE user_id = $1 AND actor_id IS NOT NULL ORDER BY id`,
      [accountId],
    )
  ).rows;

/** The same browser (its cookies: the session and the CSRF cookie) on another instance of the app. */
export function sameBrowserOn(app: Browser['app'], browser: Browser): Browser {
  const copy = new BrowserClass(app);
  const cookies = browser.agent.jar.getCookies({ domain: '127.0.0.1', path: '/', secure: false, script: false });
  copy.agent.jar.setCookies(
    cookies.map((cookie) => `${cookie.name}=${cookie.value}`),
    '127.0.0.1',
    '/',
  );
  return copy;
}
