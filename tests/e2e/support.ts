import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AxeResults } from 'axe-core';
import { type AddressObject, simpleParser } from 'mailparser';
import pg from 'pg';
import { afterAll, afterEach, beforeAll } from 'vitest';
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  type Locator,
  type Page,
  type Response,
} from 'playwright-core';
import { launchChromium } from '../../scripts/chromium.js';
import { PASSWORD, uniqueEmail } from '../support/browser.js';
import { SERVER, freePort, killGroup, run, waitForHealthy } from '../support/processes.js';

// The real-browser suite: the real entry point (`node dist/server.js`, as `npm start` runs it) on a free port and a fresh
// database on a real Postgres server, driven by Playwright through Debian's Chromium.

// ---------------------------------------------------------------------------------------------
// The app

/** Where the e2e databases are created: TEST_DATABASE_URL's server, or the local CI one. */
export const ADMIN_URL = process.env['TEST_DATABASE_URL'] || 'postgres://postgres@127.0.0.1:5432/test';

/** Failed logins per account (and IP) before the 429 page: small, so a test can reach it. */
export const LOGIN_FAILURES_PER_ACCOUNT = 3;

export interface E2eApp {
  /**
   * http://localhost:<port>, no trailing slash: the app listens on 127.0.0.1, but browsers offer
   * passkeys only on a name, never on an IP address.
   */
  readonly baseUrl: string;
  /** The app's DATA_DIR; with no SMTP_URL outside production its mail lands in `outbox/` here. */
  readonly dataDir: string;
  /** The app's own database (a test may move a session's clock back, as time passing would). */
  readonly databaseUrl: string;
  /** `${baseUrl}${path}`. */
  url(path: string): string;
  close(): Promise<void>;
}

/** What a test file may add to the app it starts: more environment (an identity provider), a port chosen first. */
export interface AppOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly port?: number;
}

/**
 * Creates `gatehouse_e2e_<random>` on ADMIN_URL's server, starts the app on it as a child
 * process (NODE_ENV=test, bcrypt cost 4, a temporary DATA_DIR, a small per-account login
 * limit), and waits until /healthz answers. close() kills the app and drops the database.
 */
export async function startApp({ env = {}, port: chosen }: AppOptions = {}): Promise<E2eApp> {
  const name = `gatehouse_e2e_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const databaseUrl = new URL(ADMIN_URL);
  databaseUrl.pathname = `/${name}`;

  const dropDatabase = async () => {
    const client = new pg.Client({ connectionString: ADMIN_URL });
    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await client.end();
    }
  };

  const port = chosen ?? (await freePort());
  const baseUrl = `http://localhost:${port}`;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'gh-e2e-'));
  // cwd is the temporary directory, so no stray .env is read.
  const server = run(
    SERVER,
    {
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: dataDir,
      DATABASE_URL: databaseUrl.toString(),
      BCRYPT_COST: '4',
      LOG_LEVEL: 'warn',
      LOGIN_FAILURES_PER_ACCOUNT: String(LOGIN_FAILURES_PER_ACCOUNT),
      // Every test signs up and logs in from 127.0.0.1: only the per-account limit is meant to bite.
      LOGIN_FAILURES_PER_IP: '100000',
      PASSWORD_CHECKS_PER_IP: '100000',
      LOGIN_FAILURES_PER_ACCOUNT_TOTAL: '100000',
      SIGNUPS_PER_IP: '100000',
      ...env,
    },
    dataDir,
  );
  const stop = async () => {
    killGroup(server.child);
    await server.exited;
    await dropDatabase();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitForHealthy(`http://127.0.0.1:${port}`, server);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    baseUrl,
    dataDir,
    databaseUrl: databaseUrl.toString(),
    url: (pathAndQuery) => `${baseUrl}${pathAndQuery}`,
    close: stop,
  };
}

// ---------------------------------------------------------------------------------------------
// The browser (launched by scripts/chromium.ts, which the screenshots share)

export const SESSION_COOKIE = 'gatehouse.sid';

/**
 * What the browser keeps across a restart: the context's storage state without session cookies
 * (no Expires/Max-Age, which Playwright records as `expires: -1`), as a real browser drops them
 * when it closes.
 */
export async function stateAfterRestart(context: BrowserContext) {
  const state = await context.storageState();
  return { ...state, cookies: state.cookies.filter((cookie) => cookie.expires !== -1) };
}

/**
 * Runs `action` (a click, a key press) that makes the page navigate, waits for the new document
 * to load, and returns the status of the last document response (after any redirects).
 */
export async function navigation(page: Page, action: () => Promise<unknown>): Promise<number> {
  const documents: Response[] = [];
  const onResponse = (response: Response) => {
    const request = response.request();
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) documents.push(response);
  };
  page.on('response', onResponse);
  const loaded = page.waitForEvent('load');
  // If the action throws, nobody awaits `loaded`; its rejection when the context closes is not news.
  loaded.catch(() => undefined);
  try {
    await action();
    await loaded;
  } finally {
    page.off('response', onResponse);
  }
  const last = documents.at(-1);
  if (!last) throw new Error('the page navigated without a document response');
  return last.status();
}

/** Path and query of the page's URL, e.g. "/login?next=%2F". */
export const pathOf = (page: Page): string => {
  const url = new URL(page.url());
  return `${url.pathname}${url.search}`;
};

/** The text of the <dd> that follows the <dt> with exactly this text (the dashboard's details). */
export const detail = (page: Page, term: string): Locator =>
  page.locator('dt', { hasText: new RegExp(`^\\s*${term}\\s*$`) }).locator('xpath=following-sibling::dd[1]');

/** What a test file gets from useAppAndBrowser(): the app, the browser, and fresh contexts. */
export interface E2eSession {
  readonly app: E2eApp;
  readonly browser: Browser;
  /** A new context, closed after the test. */
  newContext(options?: BrowserContextOptions): Promise<BrowserContext>;
  /** A new context (closed after the test) and its first page. */
  freshPage(options?: BrowserContextOptions): Promise<Page>;
}

/** Registers the hooks of a test file: one app and one browser for the file, contexts per test. */
export function useAppAndBrowser(setup: () => Promise<AppOptions> = async () => ({})): E2eSession {
  let app: E2eApp | undefined;
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  beforeAll(async () => {
    // Both at once; whichever started is kept (and so stopped in afterAll) even if the other failed.
    const [started, launched] = await Promise.allSettled([setup().then(startApp), launchChromium()]);
    if (started.status === 'fulfilled') app = started.value;
    if (launched.status === 'fulfilled') browser = launched.value;
    if (started.status === 'rejected') throw started.reason;
    if (launched.status === 'rejected') throw launched.reason;
  });
  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });
  const session: E2eSession = {
    get app() {
      if (!app) throw new Error('the app is not started (beforeAll failed)');
      return app;
    },
    get browser() {
      if (!browser) throw new Error('the browser is not launched (beforeAll failed)');
      return browser;
    },
    async newContext(options = {}) {
      const context = await session.browser.newContext(options);
      contexts.push(context);
      return context;
    },
    async freshPage(options = {}) {
      return (await session.newContext(options)).newPage();
    },
  };
  return session;
}

// ---------------------------------------------------------------------------------------------
// Accounts

// The same unique addresses and password as the in-process tests.
export { PASSWORD, uniqueEmail };

export interface NewUser {
  readonly name: string;
  readonly email: string;
  readonly password: string;
  readonly website: string;
}

export const newUser = (overrides: Partial<NewUser> = {}): NewUser => ({
  name: 'Ada Lovelace',
  email: uniqueEmail(),
  password: PASSWORD,
  website: '',
  ...overrides,
});

/** Fills in and sends the sign-up form on `page`, finding each field by its label; the final status. */
export async function signUpWith(page: Page, app: E2eApp, user: NewUser): Promise<number> {
  await page.goto(app.url('/signup'));
  await page.getByLabel('Name', { exact: true }).fill(user.name);
  await page.getByLabel('Email', { exact: true }).fill(user.email);
  await page.getByLabel('Password', { exact: true }).fill(user.password);
  await page.getByLabel('Confirm password', { exact: true }).fill(user.password);
  await page.getByLabel('Website').fill(user.website);
  return navigation(page, () => page.getByRole('button', { name: 'Sign up' }).click());
}

/**
 * An account that exists before the journey starts, made over plain HTTP the way a form post
 * would make it (token from the form, session cookie), so the browser under test has no session.
 */
export async function registeredUser(app: E2eApp, overrides: Partial<NewUser> = {}): Promise<NewUser> {
  const user = newUser(overrides);
  const form = await fetch(app.url('/signup'));
  const cookie = form.headers.getSetCookie().map((line) => line.split(';')[0]);
  const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1];
  if (!token || cookie.length === 0) throw new Error(`no form token or session cookie on /signup (${form.status})`);
  const response = await fetch(app.url('/signup'), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookie.join('; ') },
    body: new URLSearchParams({ _csrf: token, ...user, confirm: user.password }),
  });
  if (response.status !== 303) throw new Error(`signing up ${user.email} answered ${response.status}`);
  return user;
}

/** Fills in and sends the login form on the page already showing it; the final status. */
export async function logInWith(page: Page, email: string, password: string, remember = false): Promise<number> {
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByLabel(/^Remember me/).setChecked(remember);
  return navigation(page, () => page.getByRole('button', { name: 'Log in', exact: true }).click());
}

// ---------------------------------------------------------------------------------------------
// Mail (the development outbox: one .eml file per message in DATA_DIR/outbox, written by the
// app's mail worker a moment after the request that queued it)

export interface ReceivedMail {
  readonly file: string;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  /** The first http(s) link in the text part. */
  readonly link: string | undefined;
}

const taken = new Set<string>();

/**
 * Waits (up to `timeoutMs`, 15 s by default: the worker polls every few seconds) for a message
 * to `to` whose file name names `template` (e.g. "password-reset", "verify-email") and that no
 * earlier call returned; the oldest such message, parsed.
 */
export async function waitForMail(
  app: E2eApp,
  to: string,
  template: string,
  timeoutMs = 15_000,
): Promise<ReceivedMail> {
  const outbox = path.join(app.dataDir, 'outbox');
  const deadline = Date.now() + timeoutMs;
  const address = to.toLowerCase();
  for (;;) {
    let files: string[] = [];
    try {
      files = readdirSync(outbox)
        .filter((file) => file.endsWith(`-${template}.eml`) && !taken.has(path.join(outbox, file)))
        .sort();
    } catch {
      // no mail written yet
    }
    for (const file of files) {
      const full = path.join(outbox, file);
      const mail = await simpleParser(readFileSync(full));
      const recipients = ([] as AddressObject[]).concat(mail.to ?? []).flatMap((list) => list.value);
      if (!recipients.some((recipient) => recipient.address?.toLowerCase() === address)) continue;
      taken.add(full);
      const text = mail.text ?? '';
      return { file: full, to: address, subject: mail.subject ?? '', text, link: /https?:\/\/\S+/.exec(text)?.[0] };
    }
    if (Date.now() > deadline) throw new Error(`no "${template}" mail to ${to} in ${outbox} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The link in the newest unread `template` mail to `to`; fails when the mail has none. */
export async function linkFromMail(app: E2eApp, to: string, template: string): Promise<string> {
  const mail = await waitForMail(app, to, template);
  if (!mail.link) throw new Error(`the "${template}" mail to ${to} has no link:\n${mail.text}`);
  return mail.link;
}

/** A sign-in code as mailed: XXX-XXX from the code alphabet (no 0/O, 1/I), on a line of its own. */
export const SIGN_IN_CODE_LINE = /^[A-HJ-NP-Z2-9]{3}-[A-HJ-NP-Z2-9]{3}$/m;

/** The sign-in code (as written, XXX-XXX) in the newest unread 'login-code' mail to `to`; fails when it has none. */
export async function codeFromMail(app: E2eApp, to: string): Promise<string> {
  const mail = await waitForMail(app, to, 'login-code');
  const code = SIGN_IN_CODE_LINE.exec(mail.text)?.[0];
  if (!code) throw new Error(`the "login-code" mail to ${to} has no code on a line of its own:\n${mail.text}`);
  return code;
}

// ---------------------------------------------------------------------------------------------
// Accessibility

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WCAG_21_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

/**
 * Context options for the axe checks. The pages' CSP (`script-src 'self'`) blocks the inline
 * script that addScriptTag({ content }) inserts, so these contexts, and only these, bypass CSP.
 * Every other context in the suite keeps the CSP on.
 */
export const AXE_CONTEXT: BrowserContextOptions = { bypassCSP: true };

export interface AxeViolation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly helpUrl: string;
  readonly nodes: ReadonlyArray<{ target: string; html: string; summary: string }>;
}

/** Runs axe-core on the page at WCAG 2.0/2.1 A and AA; the violations, in axe's order. */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  await page.addScriptTag({ content: AXE_SOURCE });
  return page.evaluate(async (values) => {
    const { axe } = window as unknown as { axe: { run: (...args: unknown[]) => Promise<AxeResults> } };
    const results = await axe.run(document, { runOnly: { type: 'tag', values } });
    return results.violations.map((violation) => ({
      id: violation.id,
      impact: violation.impact ?? null,
      help: violation.help,
      helpUrl: violation.helpUrl,
      nodes: violation.nodes.map((node) => ({
        target: node.target.map(String).join(' '),
        html: node.html,
        summary: node.failureSummary ?? '',
      })),
    }));
  }, WCAG_21_AA);
}

/** Fails on the first violation, naming its rule, what it asks for and the offending element. */
export async function expectNoAxeViolations(page: Page, state: string): Promise<void> {
  const violations = await axeViolations(page);
  const first = violations[0];
  if (!first) return;
  const node = first.nodes[0];
  const others =
    violations.length > 1
      ? ` (and ${violations.length - 1} more: ${violations
          .slice(1)
          .map((v) => v.id)
          .join(', ')})`
      : '';
  throw new Error(
    `axe: ${state} (${pathOf(page)}) violates "${first.id}" (${first.impact ?? 'no impact given'}): ${first.help}` +
      `\n  at ${node?.target ?? '?'}: ${node?.html ?? ''}\n  ${node?.summary.replace(/\n/g, '\n  ') ?? ''}` +
      `\n  ${first.helpUrl}${others}`,
  );
}
