import { createHash } from 'node:crypto';
import type { Express } from 'express';
import type { Response } from 'supertest';
import { expect } from 'vitest';
import type { OutgoingMail } from '../../src/mail/mail-transport.js';
import { Browser, PASSWORD, signupFields } from './browser.js';
import type { TestApp } from './test-app.js';

import { unescapeHtml } from './pages.js';

export { expectCleanRefusal, fieldError, flashesOn, isLoggedIn, unescapeHtml } from './pages.js';

/**
 * Helpers for the mail-flow tests (password reset, address verification,
 * notices). The apps they drive trust the loopback proxy, so each visitor can
 * come from an IP of its own (X-Forwarded-For): the per-IP link throttle (30 an
 * hour) then counts each test on its own, and the IP in a notice is known.
 */

export const TRUST_LOOPBACK = { TRUST_PROXY: 'loopback' } as const;

export const LINK_SENT = 'If an account exists for that address, we have sent a link.';
export const NOT_YOU = "If this wasn't you";

let ipCounter = 0;
/** An address from the documentation ranges, new on each call. */
export const uniqueIp = (): string => {
  ipCounter += 1;
  return `198.${18 + Math.floor(ipCounter / 65536)}.${Math.floor(ipCounter / 256) % 256}.${ipCounter % 256}`;
};

export const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
export const CHROME_WINDOWS =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

/** A browser that comes from `ip` (through the trusted proxy) and sends `userAgent`. */
export function visitor(app: Express, ip: string = uniqueIp(), userAgent: string = CHROME_WINDOWS): Browser {
  const browser = new Browser(app);
  browser.agent.set('X-Forwarded-For', ip);
  browser.agent.set('User-Agent', userAgent);
  return browser;
}

export interface Member {
  readonly browser: Browser;
  readonly email: string;
  readonly name: string;
  readonly id: string;
  readonly ip: string;
  readonly userAgent: string;
}

/** Signs up from a browser of its own; the signup's answer is checked by the caller's expectations. */
export async function signUp(
  t: TestApp,
  { ip = uniqueIp(), userAgent = CHROME_WINDOWS, email }: { ip?: string; userAgent?: string; email?: string } = {},
): Promise<Member & { response: Response }> {
  const browser = visitor(t.app, ip, userAgent);
  const fields = signupFields(email ? { email } : {});
  const response = await browser.submit('/signup', '/signup', { ...fields });
  if (response.status !== 303) throw new Error(`signup failed with ${response.status}: ${response.text.slice(0, 300)}`);
  const id = (await userByEmail(t, fields.email))?.id;
  if (!id) throw new Error('the new user has no row');
  return { browser, email: fields.email, name: fields.name, id, ip, userAgent, response };
}

/** Logs in from the browser; returns the answer. */
export const logIn = (browser: Browser, email: string, password = PASSWORD) =>
  browser.submit('/login', '/login', { email, password });

/** What a login answers, from a fresh browser with its own IP. */
export const loginStatus = async (t: TestApp, email: string, password = PASSWORD) =>
  (await logIn(visitor(t.app), email, password)).status;

export interface UserRow {
  id: string;
  email: string;
  pending_email: string | null;
  email_verified_at: Date | null;
  password_hash: string;
  is_active: boolean;
}

export async function userByEmail(t: TestApp, email: string): Promise<UserRow | undefined> {
  const { rows } = await t.pool.query<UserRow>(
    `SELECT id::text AS id, email, pending_email, email_verified_at, password_hash, is_active
       FROM users WHERE lower(email) = lower($1)`,
    [email],
  );
  return rows[0];
}

export async function userById(t: TestApp, id: string): Promise<UserRow | undefined> {
  const { rows } = await t.pool.query<UserRow>(
    'SELECT id::text AS id, email, pending_email, email_verified_at, password_hash, is_active FROM users WHERE id = $1',
    [id],
  );
  return rows[0];
}

/** The audit event kinds of a user ('login', 'logout', ...), oldest first. */
export async function eventKindsOf(t: TestApp, userId: string): Promise<string[]> {
  const { rows } = await t.pool.query<{ event: string }>(
    'SELECT event FROM auth_events WHERE user_id = $1 ORDER BY id',
    [userId],
  );
  return rows.map((row) => row.event);
}

export const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

// ---- mail --------------------------------------------------------------------

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Delivers what is due until a message matching `match` has been delivered
 * (every 50 ms, up to `timeoutMs`): some flows queue their mail after the answer.
 */
export async function waitForMail(
  t: TestApp,
  match: (mail: OutgoingMail) => boolean,
  timeoutMs = 5_000,
): Promise<OutgoingMail> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await t.deliverMail()).filter(match);
    const last = found.at(-1);
    if (last) return last;
    if (Date.now() > deadline) throw new Error('no matching mail was delivered in time');
    await sleep(50);
  }
}

/** The newest message of `template` to `to` delivered after the first `skip` messages. */
export const waitForMailTo = (t: TestApp, to: string, template: string, skip = 0) =>
  waitForMail(t, (mail) => mail.to === to && mail.template === template && mail.id > skip);

/** The highest outbox id delivered so far: a mark to wait for newer mail only. */
export async function mailMark(t: TestApp): Promise<number> {
  const { rows } = await t.pool.query<{ max: string | null }>('SELECT max(id)::text AS max FROM mail_outbox');
  return Number(rows[0]?.max ?? 0);
}

/**
 * Every message delivered to `to` after the mark, once the app had `quietMs`
 * to queue what it does after answering.
 */
export async function mailsAfter(t: TestApp, mark: number, quietMs = 400): Promise<OutgoingMail[]> {
  await t.deliverMail();
  await sleep(quietMs);
  return (await t.deliverMail()).filter((mail) => mail.id > mark);
}

/** The link to `path` in a message's text part. */
export function linkIn(mail: OutgoingMail, path: string): string {
  const escaped = path.replace(/[/?.]/g, (c) => `\\${c}`);
  const link = new RegExp(`https?://\\S+${escaped}\\?token=[^\\s]+`).exec(mail.text)?.[0];
  if (!link) throw new Error(`no ${path} link in the ${mail.template} mail:\n${mail.text}`);
  return link;
}

export const tokenOf = (link: string): string => new URL(link).searchParams.get('token') ?? '';

/** The path and query of an absolute link, as a browser requests it. */
export const pathOf = (link: string): string => {
  const url = new URL(link);
  return `${url.pathname}${url.search}`;
};

export const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/**
 * Asks for a reset link for an existing account from `browser` (by default a new visitor with an
 * IP of its own), checks the form's 200, and returns the link from the mail it gets.
 */
export async function resetLinkFor(t: TestApp, email: string, browser: Browser = visitor(t.app)): Promise<string> {
  const mark = await mailMark(t);
  const answer = await browser.submit('/password/forgot', '/password/forgot', { email });
  expect(answer.status).toBe(200);
  return linkIn(await waitForMailTo(t, email, 'password-reset', mark), '/password/reset');
}

/** Follows a reset link in `browser`: the token leaves the URL (a 303 to the form), then the form shows. */
export async function openResetLink(browser: Browser, link: string): Promise<{ first: Response; page: Response }> {
  const first = await browser.get(pathOf(link));
  expect(first.status).toBe(303);
  expect(first.headers['location']).toBe('/password/reset');
  return { first, page: await browser.get('/password/reset') };
}

/**
 * Follows a mailed link (verification, cancelling an email change) as a person does: opens it,
 * which shows a page and changes nothing, then presses the page's one button. The page's own
 * answer when it is not a 200 (a dead link).
 */
export async function followLink(browser: Browser, link: string): Promise<Response> {
  const path = link.startsWith('/') ? link : pathOf(link);
  const page = await browser.get(path);
  if (page.status !== 200) return page;
  const form = /<main[\s\S]*?<form method="post" action="([^"]+)">([\s\S]*?)<\/form>/.exec(page.text);
  if (!form?.[1]) throw new Error(`no form on the page of ${path}:\n${page.text.slice(0, 500)}`);
  const fields = Object.fromEntries(
    [...(form[2] ?? '').matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((match) => [
      match[1] ?? '',
      unescapeHtml(match[2] ?? ''),
    ]),
  );
  return browser.agent.post(form[1]).type('form').send(fields);
}

// ---- pages -------------------------------------------------------------------
