import { createHash } from 'node:crypto';
import type { Express } from 'express';
import type { TestApp } from './test-app.js';
import { Browser, PASSWORD, signedUpBrowser } from './browser.js';
import { unescapeHtml } from './pages.js';

export { expectCleanRefusal, expectSentToLogin, fieldError, flashesOn, isLoggedIn, unescapeHtml } from './pages.js';

/** Helpers shared by the account-page tests: reading pages, the users and sessions tables, the audit trail. */

export const LOGIN_REQUIRED = 'You must be logged in to view that page.';

export const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
export const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
export const SAFARI_IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

/** How supertest's loopback connection shows up as req.ip (no proxy trusted). */
export const LOOPBACK = /^(?:::ffff:127\.0\.0\.1|127\.0\.0\.1|::1)$/;

/** The whole `<input ...>` tag whose name is `name`, or undefined. */
export const inputTag = (html: string, name: string): string | undefined =>
  new RegExp(`<input\\b[^>]*\\bname="${name}"[^>]*>`).exec(html)?.[0];

/** The value attribute of the input named `name`, HTML-unescaped; undefined when it has none. */
export const inputValue = (html: string, name: string): string | undefined => {
  const raw = /\bvalue="([^"]*)"/.exec(inputTag(html, name) ?? '')?.[1];
  return raw === undefined ? undefined : unescapeHtml(raw);
};

/** Every field that has an error on the page. */
export const fieldsWithErrors = (html: string): string[] =>
  [...html.matchAll(/<p class="field-error" id="([^"]+)-error">/g)].map((match) => match[1] ?? '');

/** The session id inside the browser's signed cookie ("s:<sid>.<signature>"). */
export const sidOf = (browser: Browser): string => {
  const cookie = browser.sessionCookie();
  if (!cookie) throw new Error('the browser holds no session cookie');
  const match = /^s:(.+)\.[^.]+$/.exec(decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1)));
  if (!match?.[1]) throw new Error(`not a signed session cookie: ${cookie}`);
  return match[1];
};

/**
 * What `sessions.sid` holds for a session id: its SHA-256 in lower-case hex, never the id itself
 * (the bearer secret stays in the cookie). Written out here, not imported from the app, so the
 * tests hold the app to the rule.
 */
export const sidHash = (sid: string): string => createHash('sha256').update(sid, 'utf8').digest('hex');

/** The `sessions.sid` of the session the browser holds: the hash of its cookie's id. */
export const sidHashOf = (browser: Browser): string => sidHash(sidOf(browser));

/** A browser that sends `userAgent` on every request. */
export function browserWith(app: Express, userAgent?: string): Browser {
  const browser = new Browser(app);
  if (userAgent !== undefined) browser.agent.set('User-Agent', userAgent);
  return browser;
}

/** A fresh browser that logs in as `email`; fails the test unless the login succeeds. */
export async function loggedInBrowser(app: Express, email: string, password = PASSWORD, userAgent?: string) {
  const browser = browserWith(app, userAgent);
  const response = await browser.submit('/login', '/login', { email, password });
  if (response.status !== 303) throw new Error(`login failed with ${response.status}`);
  return browser;
}

/** What a login with these credentials answers, from a browser of its own. */
export const tryLogin = async (app: Express, email: string, password: string) =>
  (await new Browser(app).submit('/login', '/login', { email, password })).status;

export interface UserState {
  id: string;
  name: string;
  email: string;
  website: string | null;
  pending_email: string | null;
  password_hash: string;
  is_active: boolean;
}

export async function userState(t: TestApp, id: string): Promise<UserState | undefined> {
  const { rows } = await t.pool.query<UserState>(
    'SELECT id::text AS id, name, email, website, pending_email, password_hash, is_active FROM users WHERE id = $1',
    [id],
  );
  return rows[0];
}

/** The user and every session row of theirs (sid and JSON included): whatever a request could change. */
export async function snapshot(t: TestApp, id: string) {
  const sessions = await t.pool.query<{ sid: string; sess: unknown; expire: Date }>(
    'SELECT sid, sess, expire FROM sessions WHERE user_id = $1 ORDER BY sid',
    [id],
  );
  // A page view may move expire and last_seen_at, and a form view adds a csrf token: keep who and which.
  return { user: await userState(t, id), sids: sessions.rows.map((row) => row.sid) };
}

/** A user who signed up in one browser (still logged in there). */
export async function member(t: TestApp, overrides: { name?: string; email?: string; website?: string } = {}) {
  const { browser, fields } = await signedUpBrowser(t.app, overrides);
  const { rows } = await t.pool.query<{ id: string }>('SELECT id::text AS id FROM users WHERE email = $1', [
    fields.email,
  ]);
  const id = rows[0]?.id;
  if (!id) throw new Error('the new user has no row');
  return { browser, email: fields.email, name: fields.name, id };
}

export interface EventRow {
  event: string;
  user_id: string | null;
  ip: string | null;
  user_agent: string | null;
  detail: string | null;
}

/** The audit event rows of a user, oldest first. */
export const eventRowsOf = async (t: TestApp, userId: string): Promise<EventRow[]> =>
  (
    await t.pool.query<EventRow>(
      'SELECT event, user_id::text AS user_id, ip, user_agent, detail FROM auth_events WHERE user_id = $1 ORDER BY id',
      [userId],
    )
  ).rows;

/** The audit event rows recorded for the user after the first `before`. */
export const newEventRowsOf = async (t: TestApp, userId: string, before: number): Promise<EventRow[]> =>
  (await eventRowsOf(t, userId)).slice(before);

/** The `detail` of each `event` recorded for a user, oldest first. */
export const detailsOf = async (t: TestApp, userId: string, event: string): Promise<Array<string | null>> =>
  (
    await t.pool.query<{ detail: string | null }>(
      'SELECT detail FROM auth_events WHERE user_id = $1 AND event = $2 ORDER BY id',
      [userId, event],
    )
  ).rows.map((row) => row.detail);

/** How many session rows there are, of every user and none. */
export async function sessionCount(t: TestApp): Promise<number> {
  const n = (await t.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM sessions')).rows[0]?.n;
  if (n === undefined) throw new Error('count(*) of sessions returned no row');
  return n;
}

/**
 * Moves the login of the session `browser` holds `minutes` into the past (its `authAt`), as if the
 * user had logged in that long ago; returns the new login time (ms since the epoch).
 */
export async function loginAgo(t: TestApp, browser: Browser, minutes: number): Promise<number> {
  const authAt = Date.now() - minutes * 60_000;
  const { rowCount } = await t.pool.query(
    `UPDATE sessions SET sess = jsonb_set(sess::jsonb, '{authAt}', to_jsonb($2::bigint))::json WHERE sid = $1`,
    [sidHashOf(browser), authAt],
  );
  if (rowCount !== 1) throw new Error(`moving the login time back changed ${rowCount ?? 0} session rows, not 1`);
  return authAt;
}

/** The session rows of a user, by the user_id column (`sid` is the stored hash: compare with sidHashOf). */
export const sessionRowsOf = async (t: TestApp, userId: string) =>
  (
    await t.pool.query<{ id: string; sid: string; user_id: string; ip: string | null; user_agent: string | null }>(
      'SELECT id::text AS id, sid, user_id::text AS user_id, ip, user_agent FROM sessions WHERE user_id = $1 ORDER BY id',
      [userId],
    )
  ).rows;

/** The public id of the session a browser holds. */
export async function sessionIdOf(t: TestApp, browser: Browser): Promise<string> {
  const { rows } = await t.pool.query<{ id: string }>('SELECT id::text AS id FROM sessions WHERE sid = $1', [
    sidHashOf(browser),
  ]);
  const id = rows[0]?.id;
  if (!id) throw new Error('the browser has no session row');
  return id;
}
