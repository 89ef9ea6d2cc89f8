import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Response } from 'supertest';
import { type Browser, PASSWORD, uniqueEmail } from './support/browser.js';
import {
  APP_URL,
  type TestGithub,
  type TestOidcProvider,
  onApp,
  signInWithProvider,
  startGithubStandIn,
  startOidcProvider,
  throughProvider,
} from './support/identity-provider.js';
import { mailMark, mailsAfter, waitForMailTo } from './support/mail.js';
import { flashesOn, isLoggedIn, unescapeHtml } from './support/pages.js';
import { type TestApp, startTestApp } from './support/test-app.js';
import { stepAt, totpCode } from './support/totp.js';
import { enrolApp, sendCode } from './support/two-factor.js';
import {
  type Member,
  eventKindsOf,
  loginAgo,
  sessionCount,
  signUp,
  uniqueIp,
  userByEmail,
  userById,
  visitor,
} from './support/users.js';

/**
 * Issue 21: sign-in with an identity provider (OpenID Connect, GitHub), against a real provider
 * (panva's oidc-provider, started here with a test client) and a stand-in for GitHub's three
 * endpoints. The takeover cases come first: each is a way another system's provider sign-in was
 * turned into someone else's account.
 */

let idp: TestOidcProvider;
let github: TestGithub;
let t: TestApp;
beforeAll(async () => {
  idp = await startOidcProvider(['acme']);
  github = await startGithubStandIn();
  t = await startTestApp({
    TRUST_PROXY: 'loopback',
    OIDC_PROVIDERS: 'acme',
    OIDC_ACME_LABEL: 'Acme ID',
    ...idp.env('acme'),
    ...github.env(),
  });
});
afterAll(async () => {
  await t?.close();
  await idp?.close();
  await github?.close();
});

let counter = 0;
/** A person at the provider with a new subject; their address verified unless said otherwise. */
function personAtAcme({
  email = uniqueEmail('idp'),
  verified = true,
  name = 'Grace Hopper',
}: { email?: string; verified?: boolean; name?: string } = {}): { sub: string; email: string } {
  const sub = `sub-${process.pid}-${++counter}`;
  idp.people.set(sub, { email, email_verified: verified, name });
  return { sub, email };
}

/** A person at GitHub with a new numeric id and login. */
function personAtGithub(email = uniqueEmail('gh'), verified = true): { login: string; id: number; email: string } {
  counter += 1;
  const login = `octo-${process.pid}-${counter}`;
  const id = 1_000_000 + process.pid * 1000 + counter;
  github.people.set(login, { id, login, name: null, emails: [{ email, primary: true, verified }] });
  return { login, id, email };
}

interface IdentityRow {
  user_id: string;
  provider: string;
  issuer: string;
  subject: string;
  email_seen: string | null;
  last_used_at: Date | null;
}

const identitiesWith = async (subject: string): Promise<IdentityRow[]> =>
  (
    await t.pool.query<IdentityRow>(
      'SELECT user_id::text AS user_id, provider, issuer, subject, email_seen, last_used_at FROM identities WHERE subject = $1',
      [subject],
    )
  ).rows;

const identitiesOf = async (userId: string): Promise<IdentityRow[]> =>
  (
    await t.pool.query<IdentityRow>(
      'SELECT user_id::text AS user_id, provider, issuer, subject, email_seen, last_used_at FROM identities WHERE user_id = $1',
      [userId],
    )
  ).rows;

const usersWith = async (email: string): Promise<number> =>
  (await t.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM users WHERE lower(email) = lower($1)', [email]))
    .rows[0]?.n ?? 0;

/** Who `browser` is logged in as (the dashboard's address), or null. */
async function loggedInAs(browser: Browser): Promise<string | null> {
  const page = await browser.get('/');
  if (page.status !== 200) return null;
  return /[\w.+-]+@example\.com/.exec(unescapeHtml(page.text))?.[0] ?? null;
}

/** A person who signed up at acme (a new verified identity): their account, logged in in `browser`. */
async function accountFromAcme(options: { email?: string; verified?: boolean } = {}) {
  const person = personAtAcme(options);
  const browser = visitor(t.app);
  const { answer } = await signInWithProvider(browser, 'acme', { as: person.sub });
  expect(answer.status, answer.text.slice(0, 300)).toBe(303);
  const row = await userByEmail(t, person.email);
  if (!row) throw new Error('no account was made');
  return { ...person, browser, id: row.id };
}

/** Connects `name` from the security page of `browser`, signing in there as `as`; the app's answer. */
async function connect(browser: Browser, name: string, as: string): Promise<Response> {
  const started = await browser.submit('/account/security', `/account/identities/${name}/connect`, {});
  expect(started.status).toBe(303);
  const callback = await throughProvider(started.headers['location'] ?? '', { as });
  return browser.get(onApp(callback));
}

/** The provider's answer for `browser`'s own flow, not yet taken to the app. */
async function answerFor(browser: Browser, as: string, name = 'acme'): Promise<URL> {
  const started = await browser.submit('/login', `/login/oidc/${name}`, {});
  expect(started.status).toBe(303);
  return throughProvider(started.headers['location'] ?? '', { as });
}

const expectBackOnLogin = async (browser: Browser, answer: Response, text: RegExp) => {
  expect(answer.status).toBe(303);
  expect(answer.headers['location']).toMatch(/^\/login(\?|$)/);
  const page = await browser.get(answer.headers['location'] ?? '/login');
  expect(flashesOn(page.text).join(' ')).toMatch(text);
};

describe('takeover: an unknown identity with an address an account already has is never linked', () => {
  it('a squatter pre-registered with the victim address (unverified): nothing is linked, nothing created, nobody logged in', async () => {
    const victimEmail = uniqueEmail('victim');
    const squatter = await signUp(t, { email: victimEmail });
    const before = await userById(t, squatter.id);
    const victim = personAtAcme({ email: victimEmail, verified: true });

    const browser = visitor(t.app);
    const { answer } = await signInWithProvider(browser, 'acme', { as: victim.sub });

    expect(answer.status).toBe(409);
    expect(unescapeHtml(answer.text)).toContain(
      'An account already uses the address Acme ID gave us. If it is yours, log in to it another way, then connect Acme ID from Security in your account.',
    );
    expect(await isLoggedIn(browser)).toBe(false);
    expect(await identitiesWith(victim.sub)).toEqual([]);
    expect(await usersWith(victimEmail)).toBe(1);
    expect(await userById(t, squatter.id)).toEqual(before);
    expect(await eventKindsOf(t, squatter.id)).toContain('identity_refused');
  });

  it.each([true, false])(
    'an account whose address is verified is not linked either (email_verified %s at the provider)',
    async (verified) => {
      const email = uniqueEmail('owner');
      const owner = await signUp(t, { email });
      await t.pool.query('UPDATE users SET email_verified_at = now() WHERE id = $1', [owner.id]);
      const person = personAtAcme({ email, verified });
      const browser = visitor(t.app);
      const { answer } = await signInWithProvider(browser, 'acme', { as: person.sub });
      expect(answer.status).toBe(409);
      expect(await isLoggedIn(browser)).toBe(false);
      expect(await identitiesWith(person.sub)).toEqual([]);
    },
  );

  it('an address in another letter case is the same address', async () => {
    const email = uniqueEmail('case');
    await signUp(t, { email });
    const person = personAtAcme({ email: email.toUpperCase() });
    const { answer } = await signInWithProvider(visitor(t.app), 'acme', { as: person.sub });
    expect(answer.status).toBe(409);
    expect(await usersWith(email)).toBe(1);
  });
});

describe('takeover: an identity is its issuer and subject, never its email', () => {
  it('an identity linked to another account cannot be connected to a second one', async () => {
    const first = await accountFromAcme();
    const second = await signUp(t);
    const answer = await connect(second.browser, 'acme', first.sub);
    expect(answer.status).toBe(303);
    expect(answer.headers['location']).toBe('/account/security');
    const page = await second.browser.get('/account/security');
    expect(flashesOn(page.text).join(' ')).toContain('That Acme ID account is connected to another account here.');
    expect((await identitiesWith(first.sub)).map((row) => row.user_id)).toEqual([first.id]);
    expect(await identitiesOf(second.id)).toEqual([]);
    expect(await eventKindsOf(t, second.id)).toContain('identity_refused');
  });

  it('a changed email at the provider signs in the identity own account, never the one with the new address', async () => {
    const first = await accountFromAcme();
    const other = await signUp(t);
    await t.pool.query('UPDATE users SET email_verified_at = now() WHERE id = $1', [other.id]);
    // The person (or whoever controls the identity) now shows the other account's address, verified.
    idp.people.set(first.sub, { email: other.email, email_verified: true, name: 'Someone' });

    const browser = visitor(t.app);
    const { answer } = await signInWithProvider(browser, 'acme', { as: first.sub });
    expect(answer.status).toBe(303);
    expect(await loggedInAs(browser)).toBe(first.email);
    expect((await userById(t, first.id))?.email).toBe(first.email);
    expect(await identitiesOf(other.id)).toEqual([]);
    // The address seen is noted on the identity, nothing more.
    expect((await identitiesWith(first.sub))[0]?.email_seen).toBe(other.email);
  });

  it('email_verified false: the account is made without a proven address, and a verification link is mailed', async () => {
    const mark = await mailMark(t);
    const made = await accountFromAcme({ verified: false });
    const row = await userById(t, made.id);
    expect(row?.email_verified_at).toBeNull();
    expect(row?.password_hash).toBeNull();
    const mail = await waitForMailTo(t, made.email, 'verify-email', mark);
    expect(mail.text).toContain('/email/verify?token=');
  });

  it('email_verified true: the address is proven, and nothing is mailed', async () => {
    const mark = await mailMark(t);
    const made = await accountFromAcme({ verified: true });
    expect((await userById(t, made.id))?.email_verified_at).not.toBeNull();
    expect((await mailsAfter(t, mark)).filter((mail) => mail.to === made.email)).toEqual([]);
  });
});

describe('takeover: the answer is taken once, only by the browser that asked, only from the right issuer', () => {
  it('a replayed answer logs nobody in: neither in another browser nor again in the same one', async () => {
    const person = personAtAcme();
    const browser = visitor(t.app);
    const callback = await answerFor(browser, person.sub);
    expect((await browser.get(onApp(callback))).status).toBe(303);
    expect(await isLoggedIn(browser)).toBe(true);

    const elsewhere = visitor(t.app);
    await expectBackOnLogin(elsewhere, await elsewhere.get(onApp(callback)), /expired or was already used/);
    expect(await isLoggedIn(elsewhere)).toBe(false);

    await browser.submit('/', '/logout', {});
    await expectBackOnLogin(browser, await browser.get(onApp(callback)), /expired or was already used/);
    expect(await isLoggedIn(browser)).toBe(false);
  });

  it('a copy of the flow cookie cannot use the answer a second time (the code is single use)', async () => {
    const person = personAtAcme();
    const browser = visitor(t.app);
    const callback = await answerFor(browser, person.sub);
    const copy = visitor(t.app);
    for (const cookie of browser.agent.jar.getCookies({
      domain: '127.0.0.1',
      path: '/login/oidc',
      secure: false,
      script: false,
    })) {
      copy.agent.jar.setCookie(`${cookie.name}=${cookie.value}; Path=${cookie.path}`, '127.0.0.1', '/');
    }
    expect((await browser.get(onApp(callback))).status).toBe(303);
    expect(await isLoggedIn(browser)).toBe(true);
    await expectBackOnLogin(copy, await copy.get(onApp(callback)), /did not confirm who you are/);
    expect(await isLoggedIn(copy)).toBe(false);
  });

  it('a swapped answer (another browser flow, the attacker own identity) is refused in the victim browser', async () => {
    const attacker = personAtAcme();
    const attackerBrowser = visitor(t.app);
    const attackerAnswer = await answerFor(attackerBrowser, attacker.sub);

    // The victim has a flow of their own; the attacker's answer is planted on them.
    const victim = visitor(t.app);
    const started = await victim.submit('/login', '/login/oidc/acme', {});
    expect(started.status).toBe(303);
    const answer = await victim.get(onApp(attackerAnswer));
    await expectBackOnLogin(victim, answer, /did not confirm who you are/);
    expect(await isLoggedIn(victim)).toBe(false);

    // And a victim with no flow at all.
    const bare = visitor(t.app);
    await expectBackOnLogin(bare, await bare.get(onApp(attackerAnswer)), /expired or was already used/);
    expect(await isLoggedIn(bare)).toBe(false);
    expect(await identitiesWith(attacker.sub)).toEqual([]);
  });

  it.each([
    ['another issuer', (url: URL) => url.searchParams.set('iss', 'http://127.0.0.1:1/evil')],
    ['no iss at all', (url: URL) => url.searchParams.delete('iss')],
  ])('an answer with %s in iss (RFC 9207) is refused', async (_label, tamper) => {
    const person = personAtAcme();
    const browser = visitor(t.app);
    const callback = await answerFor(browser, person.sub);
    expect(callback.searchParams.get('iss')).toBe(idp.issuer);
    tamper(callback);
    await expectBackOnLogin(browser, await browser.get(onApp(callback)), /did not confirm who you are/);
    expect(await isLoggedIn(browser)).toBe(false);
    expect(await identitiesWith(person.sub)).toEqual([]);
  });

  it('a tampered state is refused', async () => {
    const person = personAtAcme();
    const browser = visitor(t.app);
    const callback = await answerFor(browser, person.sub);
    callback.searchParams.set('state', 'A'.repeat(43));
    await expectBackOnLogin(browser, await browser.get(onApp(callback)), /did not confirm who you are/);
    expect(await isLoggedIn(browser)).toBe(false);
  });
});

describe('takeover: a provider sign-in is a first factor', () => {
  it('an account with an authenticator app goes on to the second step, logging nobody in; a code completes it', async () => {
    const user = await signUp(t);
    const person = personAtAcme();
    expect((await connect(user.browser, 'acme', person.sub)).status).toBe(303);
    const { secret } = await enrolApp(user.browser);
    await user.browser.submit('/', '/logout', {});

    const browser = visitor(t.app);
    const { answer } = await signInWithProvider(browser, 'acme', { as: person.sub }, { fields: { next: '/account' } });
    expect(answer.status).toBe(303);
    expect(answer.headers['location']).toBe('/login/two-factor');
    expect(await isLoggedIn(browser)).toBe(false);
    const done = await sendCode(browser, totpCode(secret, stepAt()));
    expect(done.status).toBe(303);
    expect(done.headers['location']).toBe('/account');
    expect(await loggedInAs(browser)).toBe(user.email);
  });
});

void PASSWORD;
void APP_URL;
void sessionCount;
void loginAgo;
void uniqueIp;
void personAtGithub;
export type { Member };
