/**
 * npm run screenshots: starts Gatehouse on an embedded database in a temporary
 * directory, drives Debian's Chromium through the main pages, and writes
 * light and dark PNGs into docs/screenshots/.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { addVirtualAuthenticator, launchChromium } from './chromium.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'docs/screenshots');
const FIREFOX_ON_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function startServer(dataDir: string, port: number): Promise<ChildProcess> {
  const server = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['src/server.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? dataDir,
      DATA_DIR: dataDir,
      PORT: String(port),
      BCRYPT_COST: '4',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return server;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  server.kill();
  throw new Error('the server did not start within two minutes');
}

/** Signs up a person in a context of their own (so the console's list has more than one account). */
async function signUpSomeone(browser: Browser, base: string, name: string, email: string): Promise<void> {
  const context = await browser.newContext({ userAgent: FIREFOX_ON_LINUX });
  const page = await context.newPage();
  await page.goto(`${base}/signup`);
  await page.fill('#name', name);
  await page.fill('#email', email);
  await page.fill('#password', 'a long enough passphrase');
  await page.fill('#confirm', 'a long enough passphrase');
  await page.click('form[action="/signup"] button[type=submit]');
  await page.waitForURL(`${base}/`);
  await context.close();
}

async function shoot(
  browser: Browser,
  base: string,
  scheme: 'light' | 'dark',
  grantAdmin: (email: string) => Promise<void>,
): Promise<void> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 760 }, colorScheme: scheme });
  const page: Page = await context.newPage();
  const save = (name: string) => page.screenshot({ path: path.join(OUT, `${name}-${scheme}.png`), fullPage: true });

  await page.goto(`${base}/?tab=2`);
  await save('login');

  await page.goto(`${base}/signup`);
  await page.fill('#name', 'Ada Lovelace');
  await page.fill('#email', 'ada@example');
  await page.fill('#password', 'password');
  await page.fill('#confirm', 'passw0rd');
  await page.fill('#website', 'ftp://ada.example');
  await page.click('form[action="/signup"] button[type=submit]');
  await save('signup-errors');

  await page.fill('#email', `ada-${scheme}@example.com`);
  await page.fill('#password', 'analytical engine 1843');
  await page.fill('#confirm', 'analytical engine 1843');
  await page.fill('#website', 'https://ada.example');
  await page.click('form[action="/signup"] button[type=submit]');
  await page.waitForURL(`${base}/`);
  await save('dashboard');

  await page.goto(`${base}/account`);
  await save('account');

  // A second browser signed in to the same account, so the sessions page lists two.
  const other = await browser.newContext({ userAgent: FIREFOX_ON_LINUX });
  const otherPage = await other.newPage();
  await otherPage.goto(`${base}/login`);
  await otherPage.fill('#email', `ada-${scheme}@example.com`);
  await otherPage.fill('#password', 'analytical engine 1843');
  await otherPage.click('form[action="/login"] button[type=submit]');
  await otherPage.waitForURL(`${base}/`);
  await other.close();
  await page.goto(`${base}/account/sessions`);
  await save('sessions');

  // A second factor: the authenticator app's set-up page (a throwaway key, a real QR code).
  await page.goto(`${base}/account/two-factor/totp`);
  await save('two-factor-setup');

  // A passkey, made by Chromium's virtual authenticator standing in for the laptop.
  await addVirtualAuthenticator(page);
  await page.goto(`${base}/account/passkeys`);
  await page.fill('#name', 'Work laptop');
  await page.fill('#password', 'analytical engine 1843');
  // The form's script makes the passkey, then sends the form: the page that answers is the next load.
  const added = page.waitForEvent('load');
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await added;
  await page.goto(`${base}/account/passkeys`);
  await save('passkeys');

  await page.goto(`${base}/account/activity`);
  await save('activity');

  // The admin console: Ada (who has a passkey, a second factor) made an admin by the command.
  for (const [name, email] of [
    ['Grace Hopper', `grace-${scheme}@example.com`],
    ['Alan Turing', `alan-${scheme}@example.com`],
    ['Katherine Johnson', `katherine-${scheme}@example.com`],
  ] as const)
    await signUpSomeone(browser, base, name, email);
  await grantAdmin(`ada-${scheme}@example.com`);
  await page.goto(`${base}/admin/users`);
  await save('admin-users');
  await page.fill('#q', 'grace');
  await page.keyboard.press('Enter');
  await page.waitForURL(/q=grace/);
  await page.getByRole('link', { name: `grace-${scheme}@example.com` }).click();
  await page.waitForURL(/\/admin\/users\/\d+$/);
  await save('admin-user');

  await page.goto(`${base}/no/such/page`);
  await save('not-found');
  await context.close();

  const anonymous = await browser.newContext({ viewport: { width: 1000, height: 760 }, colorScheme: scheme });
  const visitor = await anonymous.newPage();
  await visitor.goto(`${base}/password/forgot`);
  await visitor.screenshot({ path: path.join(OUT, `forgot-password-${scheme}.png`), fullPage: true });
  await anonymous.close();
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const dataDir = mkdtempSync(path.join(tmpdir(), 'gh-shots-'));
  const port = await freePort();
  let server = await startServer(dataDir, port);
  const stop = async () => {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  };
  // admin:grant is the only way to make an admin; the embedded database admits one process at a
  // time, so the server stops while the command runs (the browser's session is kept in the database).
  const grantAdmin = async (email: string) => {
    await stop();
    const command = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['src/users-cli.ts', 'admin:grant', email], {
      cwd: ROOT,
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? dataDir, DATA_DIR: dataDir },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const code = await new Promise((resolve) => command.once('exit', resolve));
    if (code !== 0) throw new Error(`admin:grant ${email} exited with ${String(code)}`);
    server = await startServer(dataDir, port);
  };
  let browser: Browser | undefined;
  try {
    browser = await launchChromium();
    // localhost, not 127.0.0.1: browsers offer passkeys only on a name.
    for (const scheme of ['light', 'dark'] as const)
      await shoot(browser, `http://localhost:${port}`, scheme, grantAdmin);
    process.stdout.write(`Screenshots written to ${path.relative(ROOT, OUT)}/\n`);
  } finally {
    await browser?.close();
    await stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`screenshots failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
