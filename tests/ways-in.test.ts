import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Response } from 'supertest';
import { type Browser, PASSWORD } from './support/browser.js';
import { mailMark, openResetLink, resetLinkFor, waitForMailTo } from './support/mail.js';
import { isLoggedIn } from './support/pages.js';
import { ORIGIN, RP_ID, addPasskey, signInOptions, signInWith } from './support/passkeys.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { type TestApp, startTestApp } from './support/test-app.js';
import {
  type TestOidcProvider,
  onApp,
  signInWithProvider,
  startOidcProvider,
  throughProvider,
} from './support/identity-provider.js';
import { enrolApp } from './support/two-factor.js';
import { type Member, logIn, signUp, uniqueIp, visitor } from './support/users.js';

/**
 * Issue 20: one place decides what each way in is worth. Every first factor (a password, a reset
 * link, a code by email, an identity provider) against an account with each kind of second factor must end at the
 * second step, logging nobody in; a passkey, which verifies its user, is whole on its own.
 * (Better Auth's and Kratos' code and link logins once skipped the second factor.)
 */

let t: TestApp;
let idp: TestOidcProvider;
beforeAll(async () => {
  idp = await startOidcProvider(['acme']);
  t = await startTestApp({ TRUST_PROXY: 'loopback', OIDC_PROVIDERS: 'acme', ...idp.env('acme') });
});
afterAll(async () => {
  await t.close();
  await idp.close();
});

interface Account extends Member {
  password: string;
  authenticator: SoftwareAuthenticator | null;
  /** The account's identity at the provider (its subject). */
  sub: string;
}

let subjects = 0;
/** Connects a new identity at the provider to the signed-in `user` (issue 21); its subject. */
async function withIdentity(user: Member): Promise<string> {
  const sub = `ways-in-${process.pid}-${++subjects}`;
  idp.people.set(sub, { email: `other-${sub}@example.com`, email_verified: true });
  const started = await user.browser.submit('/account/security', '/account/identities/acme/connect', {});
  expect(started.status).toBe(303);
  const back = await user.browser.get(onApp(await throughProvider(started.headers['location'] ?? '', { as: sub })));
  expect(back.headers['location']).toBe('/account/security');
  return sub;
}

const SECOND_FACTORS: Record<string, (user: Member) => Promise<SoftwareAuthenticator | null>> = {
  'an authenticator app': async (user) => {
    await enrolApp(user.browser);
    return null;
  },
  'a passkey': async (user) => {
    const authenticator = new SoftwareAuthenticator(ORIGIN, RP_ID);
    expect([200, 303]).toContain((await addPasskey(user.browser, authenticator)).status);
    return authenticator;
  },
  'an authenticator app and a passkey': async (user) => {
    await enrolApp(user.browser);
    const authenticator = new SoftwareAuthenticator(ORIGIN, RP_ID);
    expect([200, 303]).toContain((await addPasskey(user.browser, authenticator)).status);
    return authenticator;
  },
};

/** Each way in with a first factor, from `browser`; the answer that ends it. The reset link changes the password. */
const FIRST_FACTORS: Record<string, (browser: Browser, account: Account) => Promise<Response>> = {
  'a password': (browser, account) => logIn(browser, account.email, account.password),
  'a code by email': async (browser, account) => {
    const mark = await mailMark(t);
    expect((await browser.submit('/login/code', '/login/code', { email: account.email })).status).toBe(303);
    const mail = await waitForMailTo(t, account.email, 'login-code', mark);
    const code = /^[A-HJ-NP-Z2-9]{3}-[A-HJ-NP-Z2-9]{3}$/m.exec(mail.text)?.[0] ?? '';
    return browser.submit('/login/code/enter', '/login/code/enter', { code });
  },
  'an identity provider': async (browser, account) =>
    (await signInWithProvider(browser, 'acme', { as: account.sub })).answer,
  'a reset link': async (browser, account) => {
    await openResetLink(browser, await resetLinkFor(t, account.email, browser));
    account.password = `${PASSWORD} ${uniqueIp()}`;
    return browser.submit('/password/reset', '/password/reset', {
      password: account.password,
      confirm: account.password,
    });
  },
};

describe.each(Object.entries(SECOND_FACTORS))('an account with %s', (kind, addSecondFactor) => {
  let account: Account;
  beforeAll(async () => {
    const user = await signUp(t);
    const sub = await withIdentity(user);
    const authenticator = await addSecondFactor(user);
    await user.browser.submit('/', '/logout', {});
    account = { ...user, password: PASSWORD, authenticator, sub };
  });

  it.each(Object.keys(FIRST_FACTORS))('%s ends at the second step, logging nobody in', async (way) => {
    const browser = visitor(t.app, uniqueIp());
    const answer = await FIRST_FACTORS[way]!(browser, account);
    expect(answer.status).toBe(303);
    expect(answer.headers['location']).toBe('/login/two-factor');
    expect(await isLoggedIn(browser)).toBe(false);
    expect((await browser.get('/login/two-factor')).status).toBe(200);
  });

  // A passkey, where the account has one, is whole on its own.
  if (kind.includes('passkey')) {
    it('a passkey is whole on its own', async () => {
      if (!account.authenticator) throw new Error('the account has no passkey');
      const browser = visitor(t.app, uniqueIp());
      const { options, csrf } = await signInOptions(browser);
      const done = await signInWith(browser, csrf, account.authenticator.authenticate(options), '/account');
      expect(done.status).toBe(303);
      expect(done.headers['location']).toBe('/account');
      expect(await isLoggedIn(browser)).toBe(true);
    });
  }
});

describe('an account with no second factor', () => {
  it.each(Object.keys(FIRST_FACTORS))('%s is a whole login', async (way) => {
    const user = await signUp(t);
    const sub = await withIdentity(user);
    await user.browser.submit('/', '/logout', {});
    const browser = visitor(t.app, uniqueIp());
    const answer = await FIRST_FACTORS[way]!(browser, { ...user, password: PASSWORD, authenticator: null, sub });
    expect(answer.status).toBe(303);
    expect(answer.headers['location']).toBe('/');
    expect(await isLoggedIn(browser)).toBe(true);
  });
});
