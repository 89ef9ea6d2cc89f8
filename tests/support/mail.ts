import type { Response } from 'supertest';
import { expect } from 'vitest';
import type { OutgoingMail } from '../../src/mail/mail-transport.js';
import type { Browser } from './browser.js';
import { unescapeHtml } from './pages.js';
import type { TestApp } from './test-app.js';
import { visitor } from './users.js';

/**
 * Reading the mail an app sends (through its real queue: see TestApp.deliverMail) and following
 * its links the way a person does: password reset, address verification, notices.
 */

/** What the forgotten-password form answers, whether or not the account exists. */
export const LINK_SENT = 'If an account exists for that address, we have sent a link.';
/** The start of the guidance a notice gives to someone who did not do what it tells of. */
export const NOT_YOU = "If this wasn't you";
/** A mailed token: 32 random bytes in base64url. */
export const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

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

/** The newest message of `template` to `to` delivered after the mark `skip` (see mailMark). */
export const waitForMailTo = (t: TestApp, to: string, template: string, skip = 0) =>
  waitForMail(t, (mail) => mail.to === to && mail.template === template && mail.id > skip);

/** The highest outbox id delivered so far: a mark to wait for newer mail only. */
export async function mailMark(t: TestApp): Promise<number> {
  const { rows } = await t.pool.query<{ max: string | null }>('SELECT max(id)::text AS max FROM mail_outbox');
  return Number(rows[0]?.max ?? 0);
}

/**
 * Every message delivered after the mark, to anyone, once the app had `quietMs` to queue what it
 * does after answering.
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

/** The token a mailed link carries ('' when it has none). */
export const tokenOf = (link: string): string => new URL(link).searchParams.get('token') ?? '';

/** The path and query of an absolute link, as a browser requests it. */
export const pathOf = (link: string): string => {
  const url = new URL(link);
  return `${url.pathname}${url.search}`;
};

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
