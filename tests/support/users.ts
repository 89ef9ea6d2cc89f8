import { createHash } from 'node:crypto';
import type { Express } from 'express';
import type { Response } from 'supertest';
import { Browser, PASSWORD, type SignupFields, signUpIn } from './browser.js';
import type { TestApp } from './test-app.js';

/**
 * The people the tests play and what the app keeps about them: browsers (user agents, an IP of
 * their own), signing up and logging in, and reading the users, sessions and audit tables.
 *
 * Two kinds of browser: browserWith() comes from supertest's loopback address, as every request
 * does unless a proxy is trusted; visitor() also says where it comes from in X-Forwarded-For,
 * which the apps started with TRUST_LOOPBACK believe, so each visitor has an IP of its own (the
 * per-IP throttles then count each test on its own, and the IP in a notice is known).
 */

// ---- browsers ----------------------------------------------------------------------------

/** Firefox on Linux. */
export const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
/** Chrome on Windows: what a visitor() sends unless told otherwise. */
export const CHROME_WINDOWS =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
/** Safari on an iPhone. */
export const SAFARI_IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

/** How supertest's loopback connection shows up as req.ip (no proxy trusted). */
export const LOOPBACK = /^(?:::ffff:127\.0\.0\.1|127\.0\.0\.1|::1)$/;

/** The environment of an app that believes X-Forwarded-For from the loopback proxy: what visitor() needs. */
export const TRUST_LOOPBACK = { TRUST_PROXY: 'loopback' } as const;

let ipCounter = 0;
/** An address from the documentation ranges, new on each call. */
export const uniqueIp = (): string => {
  ipCounter += 1;
  return `198.${18 + Math.floor(ipCounter / 65536)}.${Math.floor(ipCounter / 256) % 256}.${ipCounter % 256}`;
};

/**
 * A browser on the loopback address (no X-Forwarded-For) that sends `userAgent` on every
 * request; with none, it sends no User-Agent header at all.
 */
export function browserWith(app: Express, userAgent?: string): Browser {
  const browser = new Browser(app);
  if (userAgent !== undefined) browser.agent.set('User-Agent', userAgent);
  return browser;
}

/** A browser that comes from `ip` (through the trusted proxy: see TRUST_LOOPBACK) and sends `userAgent`. */
export function visitor(app: Express, ip: string = uniqueIp(), userAgent: string = CHROME_WINDOWS): Browser {
  const browser = browserWith(app, userAgent);
  browser.agent.set('X-Forwarded-For', ip);
  return browser;
}

// ---- signing up and logging in -----------------------------------------------------------

/** A user who has just signed up, still logged in in `browser`; `response` is the signup's answer. */
export interface SignedUp {
  readonly browser: Browser;
  readonly email: string;
  readonly name: string;
  readonly id: string;
  readonly response: Response;
}

/** A user who signed up from a visitor(): where they came from too. */
export interface Member extends SignedUp {
  readonly ip: string;
  readonly userAgent: string;
}

/**
 * Signs up in `browser` and finds the new user's id; fails the test unless the signup succeeds.
 * A field given as undefined keeps signupFields()' value.
 */
async function signUpAndFind(t: TestApp, browser: Browser, overrides: Partial<SignupFields>): Promise<SignedUp> {
  const given = Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined));
  const { fields, response } = await signUpIn(browser, given);
  const id = (await userByEmail(t, fields.email))?.id;
  if (!id) throw new Error('the new user has no row');
  return { browser, email: fields.email, name: fields.name, id, response };
}

/**
 * Signs up from a visitor() of its own (by default a new IP and Chrome on Windows), which stays
 * logged in; fails the test unless the signup succeeds.
 */
export async function signUp(
  t: TestApp,
  {
    ip = uniqueIp(),
    userAgent = CHROME_WINDOWS,
    ...fields
  }: { ip?: string; userAgent?: string } & Partial<Pick<SignupFields, 'name' | 'email' | 'website'>> = {},
): Promise<Member> {
  return { ...(await signUpAndFind(t, visitor(t.app, ip, userAgent), fields)), ip, userAgent };
}

/**
 * Signs up from a browserWith() `userAgent` (by default none): the loopback address, no
 * X-Forwarded-For. The browser stays logged in; fails the test unless the signup succeeds.
 */
export function signUpFromLoopback(
  t: TestApp,
  { userAgent, ...fields }: { userAgent?: string } & Partial<Pick<SignupFields, 'name' | 'email' | 'website'>> = {},
): Promise<SignedUp> {
  return signUpAndFind(t, browserWith(t.app, userAgent), fields);
}

/** Logs in from `browser` (the form's other fields, such as next or remember, in `extra`); returns the answer. */
export const logIn = (browser: Browser, email: string, password = PASSWORD, extra: Record<string, string> = {}) =>
  browser.submit('/login', '/login', { email, password, ...extra });

/** The status a login from `browser` answers (a fresh one, as a rule: a visitor() or a new Browser). */
export const loginStatus = async (browser: Browser, email: string, password = PASSWORD) =>
  (await logIn(browser, email, password)).status;

/** A fresh browserWith(userAgent) that logs in as `email`; fails the test unless the login succeeds. */
export async function loggedInBrowser(app: Express, email: string, password = PASSWORD, userAgent?: string) {
  const browser = browserWith(app, userAgent);
  const response = await logIn(browser, email, password);
  if (response.status !== 303) throw new Error(`login failed with ${response.status}`);
  return browser;
}

// ---- the users table ---------------------------------------------------------------------

/** What the users table holds of a user that a request could change. */
export interface UserRow {
  id: string;
  name: string;
  email: string;
  website: string | null;
  pending_email: string | null;
  email_verified_at: Date | null;
  password_hash: string;
  is_active: boolean;
}

const USER_COLUMNS =
  'id::text AS id, name, email, website, pending_email, email_verified_at, password_hash, is_active FROM users';

/** The user with this id, or undefined. */
export async function userById(t: TestApp, id: string): Promise<UserRow | undefined> {
  return (await t.pool.query<UserRow>(`SELECT ${USER_COLUMNS} WHERE id = $1`, [id])).rows[0];
}

/** The user with this email, in any letter case, or undefined. */
export async function userByEmail(t: TestApp, email: string): Promise<UserRow | undefined> {
  return (await t.pool.query<UserRow>(`SELECT ${USER_COLUMNS} WHERE lower(email) = lower($1)`, [email])).rows[0];
}

/** The user and the sids of their sessions: whatever a request could change, to compare before and after. */
export async function snapshot(t: TestApp, id: string) {
  const sessions = await t.pool.query<{ sid: string }>('SELECT sid FROM sessions WHERE user_id = $1 ORDER BY sid', [
    id,
  ]);
  // A page view may move expire and last_seen_at, and a form view adds a csrf token: keep who and which.
  return { user: await userById(t, id), sids: sessions.rows.map((row) => row.sid) };
}

// ---- sessions ----------------------------------------------------------------------------

/**
 * The SHA-256 of a text: how the app keeps a bearer secret (a mailed token's hash in a bytea,
 * a session id's as hex: sidHash). Written out here, not imported from the app, so the tests hold
 * the app to the rule.
 */
export const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** What `sessions.sid` holds for a session id: its SHA-256 in lower-case hex, never the id itself. */
export const sidHash = (sid: string): string => sha256(sid).toString('hex');

/**
 * The session id inside a session cookie: "gatehouse.sid=s%3A<sid>.<signature>", as a browser
 * holds it or as a Set-Cookie line sends it (attributes after the first `;` are ignored).
 */
export const sidInCookie = (cookie: string): string => {
  const value = decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1).split(';')[0] ?? '');
  const match = /^s:(.+)\.[^.]+$/.exec(value);
  if (!match?.[1]) throw new Error(`not a signed session cookie: ${cookie}`);
  return match[1];
};

/** The Set-Cookie line a response sends for the cookie `name`, attributes and all, or undefined. */
export const setCookieLine = (response: Response, name: string): string | undefined =>
  (response.get('Set-Cookie') ?? []).find((line) => line.startsWith(`${name}=`));

/** The session cookie's Set-Cookie line in a response, if it set one. */
export const sessionSetCookie = (response: Response): string | undefined => setCookieLine(response, 'gatehouse.sid');

/** The session id inside the browser's signed cookie; fails the test when it holds none. */
export const sidOf = (browser: Browser): string => {
  const cookie = browser.sessionCookie();
  if (!cookie) throw new Error('the browser holds no session cookie');
  return sidInCookie(cookie);
};

/** The `sessions.sid` of the session the browser holds: the hash of its cookie's id. */
export const sidHashOf = (browser: Browser): string => sidHash(sidOf(browser));

/** How many session rows there are, of every user and none. */
export async function sessionCount(t: TestApp): Promise<number> {
  const n = (await t.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM sessions')).rows[0]?.n;
  if (n === undefined) throw new Error('count(*) of sessions returned no row');
  return n;
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

// ---- the audit trail ---------------------------------------------------------------------

/** One row of auth_events, as the tests read it. */
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

/** The audit event kinds of a user ('login', 'logout', ...), oldest first. */
export const eventKindsOf = async (t: TestApp, userId: string): Promise<string[]> =>
  (await eventRowsOf(t, userId)).map((row) => row.event);

/** The `detail` of each `event` recorded for a user, oldest first. */
export const detailsOf = async (t: TestApp, userId: string, event: string): Promise<Array<string | null>> =>
  (await eventRowsOf(t, userId)).filter((row) => row.event === event).map((row) => row.detail);
