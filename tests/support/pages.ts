import type { Response } from 'supertest';
import { expect } from 'vitest';
import type { Browser } from './browser.js';

/** Reading pages the way a person does: text unescaped, flashes, field errors, and where a visitor lands. */

/** HTML text as a browser shows it: the entities the views write, decoded. */
export const unescapeHtml = (text: string) =>
  text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#(\d+);/g, (_entity, code: string) => String.fromCodePoint(Number(code)))
    .replace(/&#x([0-9a-f]+);/gi, (_entity, code: string) => String.fromCodePoint(Number.parseInt(code, 16)))
    .replace(/&amp;/g, '&');

/** The flash the login page shows to someone sent there from a page that needs a login. */
export const LOGIN_REQUIRED = 'You must be logged in to view that page.';

/** The flash messages on a page, HTML-unescaped. */
export const flashesOn = (html: string): string[] =>
  [...html.matchAll(/<p class="flash flash-\w+">([^<]*)<\/p>/g)].map((match) => unescapeHtml(match[1] ?? ''));

/** The error shown next to `field`, HTML-unescaped, or undefined. */
export const fieldError = (html: string, field: string): string | undefined => {
  const raw = new RegExp(`<p class="field-error" id="${field}-error">([^<]*)</p>`).exec(html)?.[1];
  return raw === undefined ? undefined : unescapeHtml(raw.trim());
};

/** Every field that has an error on the page. */
export const fieldsWithErrors = (html: string): string[] =>
  [...html.matchAll(/<p class="field-error" id="([^"]+)-error">/g)].map((match) => match[1] ?? '');

/** The whole `<input ...>` tag whose name is `name`, or undefined. */
export const inputTag = (html: string, name: string): string | undefined =>
  new RegExp(`<input\\b[^>]*\\bname="${name}"[^>]*>`).exec(html)?.[0];

/** The value attribute of the input named `name`, HTML-unescaped; undefined when it has none (or there is no such input). */
export const inputValue = (html: string, name: string): string | undefined => {
  const raw = /\bvalue="([^"]*)"/.exec(inputTag(html, name) ?? '')?.[1];
  return raw === undefined ? undefined : unescapeHtml(raw);
};

/** A redirect to the login page, with `next` when given. */
export const expectSentToLogin = (response: Response, next?: string) => {
  expect([302, 303]).toContain(response.status);
  if (next === undefined) expect(response.headers['location']).toMatch(/^\/login(\?|$)/);
  else expect(response.headers['location']).toBe(`/login?next=${encodeURIComponent(next)}`);
};

/** True when the browser's next request finds it logged in; false when it is sent to /login. */
export async function isLoggedIn(browser: Browser): Promise<boolean> {
  const response = await browser.get('/');
  if (response.status === 200) return true;
  expectSentToLogin(response, '/');
  return false;
}

/** A 4xx page for people (the given status, or any 4xx), with no server insides in it. */
export function expectCleanRefusal(response: Response, status?: number): void {
  if (status === undefined) {
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
  } else expect(response.status).toBe(status);
  expect(response.headers['content-type']).toMatch(/^text\/html/);
  expect(response.text).not.toMatch(/\bat (?:async )?[\w$.<>]+ \([^)]*:\d+:\d+\)/);
  expect(response.text).not.toMatch(/node_modules|\.(?:ts|js):\d+/);
}
