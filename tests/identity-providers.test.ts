import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../src/config.js';
import type { Response } from 'supertest';
import { type Browser, uniqueEmail } from './support/browser.js';
import {
  APP_URL,
  deliverAnswer,
  type TestGithub,
  type TestOidcProvider,
  onApp,
  providerBrowser,
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
import { parseInvocation } from '../src/admin/admin-args.js';
import { removeIdentity, showUser } from '../src/admin/admin-commands.js';
import { adminServices } from '../src/admin/admin-services.js';
import {
  detailsOf,
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
  idp = await startOidcProvider(['acme', 'apple']);
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

  it('the answer must come within 10 minutes of the start (the app clock): later, it is refused', async () => {
    const person = personAtAcme();
    const browser = visitor(t.app);
    const callback = await answerFor(browser, person.sub);
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    try {
      vi.setSystemTime(Date.now() + 10 * 60_000 + 1_000);
      await expectBackOnLogin(browser, await browser.get(onApp(callback)), /expired or was already used/);
    } finally {
      vi.useRealTimers();
    }
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

describe('the buttons and the start of a flow', () => {
  it('/login and /signup have a "Continue with …" button per provider: a POST form with _csrf and next', async () => {
    const login = await visitor(t.app).get('/login?next=%2Faccount');
    for (const [name, label] of [
      ['acme', 'Acme ID'],
      ['github', 'GitHub'],
    ]) {
      const form = new RegExp(
        `<form method="post" action="/login/oidc/${name}">\\s*<input type="hidden" name="_csrf" value="[^"]+">\\s*<input type="hidden" name="next" value="/account">\\s*<button[^>]*>Continue with ${label}</button>`,
      );
      expect(login.text).toMatch(form);
    }
    const signup = await visitor(t.app).get('/signup');
    expect(signup.text).toContain('Continue with Acme ID');
    expect(signup.text).toContain('Continue with GitHub');
  });

  it("the pages' CSP lets a form end at the providers' sign-in pages (browsers hold a form's redirect to form-action)", async () => {
    const page = await visitor(t.app).get('/login');
    const formAction = /form-action ([^;]+)/.exec(page.headers['content-security-policy'] ?? '')?.[1]?.split(' ');
    expect(formAction).toEqual(["'self'", idp.issuer, github.webUrl]);
  });

  it('with no provider configured, no button shows and the routes are not there', async () => {
    const bare = await t.sibling({ OIDC_PROVIDERS: '', GITHUB_CLIENT_ID: '', GITHUB_CLIENT_SECRET: '' });
    const page = await visitor(bare.app).get('/login');
    expect(page.text).not.toContain('Continue with');
    expect(page.text).not.toContain('/login/oidc/');
    expect((await visitor(bare.app).get('/signup')).text).not.toContain('Continue with');
    const browser = visitor(bare.app);
    expect((await browser.submit('/login', '/login/oidc/acme', {})).status).toBe(404);
  });

  it('the button sends the browser to the provider with state, nonce, PKCE S256 and the exact callback, writing no session row', async () => {
    const browser = visitor(t.app);
    const sessionsBefore = await sessionCount(t);
    const started = await browser.submit('/login', '/login/oidc/acme', { next: '/account' });
    expect(started.status).toBe(303);
    const url = new URL(started.headers['location'] ?? '');
    expect(url.origin).toBe(idp.issuer);
    const q = url.searchParams;
    expect(q.get('redirect_uri')).toBe(`${APP_URL}/login/oidc/acme/callback`);
    expect(q.get('response_type')).toBe('code');
    expect(q.get('client_id')).toBe(idp.clientId);
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get('state')).toMatch(/^[A-Za-z0-9_-]{43,}$/);
    expect(q.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43,}$/);
    expect(q.get('scope')?.split(' ')).toEqual(expect.arrayContaining(['openid', 'email']));
    const cookie = (started.headers['set-cookie'] as unknown as string[]).find((line) =>
      line.startsWith('gatehouse.oidc='),
    );
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).toMatch(/Path=\/login\/oidc/);
    // Nothing readable in it: the verifier and nonce are sealed.
    expect(cookie).not.toContain(q.get('state') ?? 'no state');
    expect(await sessionCount(t)).toBe(sessionsBefore);
  });

  it('a second flow in the same browser replaces the first: only the newest answer is taken', async () => {
    const person = personAtAcme();
    const browser = visitor(t.app);
    const first = await answerFor(browser, person.sub);
    const second = await answerFor(browser, person.sub);
    await expectBackOnLogin(browser, await browser.get(onApp(first)), /did not confirm who you are/);
    // The first answer took the cookie with it: the second has nothing to match now either.
    await expectBackOnLogin(browser, await browser.get(onApp(second)), /expired or was already used/);
    expect(await isLoggedIn(browser)).toBe(false);
  });

  it('a GET on the start is a 405, an unknown provider a 404, a bare callback lands on /login: never a 500', async () => {
    const browser = visitor(t.app);
    expect((await browser.get('/login/oidc/acme')).status).toBe(405);
    expect((await browser.submit('/login', '/login/oidc/nobody', {})).status).toBe(404);
    expect((await browser.get('/login/oidc/nobody/callback')).status).toBe(404);
    expect((await browser.submit('/login', '/login/oidc/acme', { evil: 'x' })).status).toBe(400);
    expect((await browser.submit('/login', '/login/oidc/acme', { next: 'x'.repeat(3000) })).status).toBe(400);
    for (const query of [
      '',
      '?code=x&state=y',
      '?error=access_denied',
      '?code=%FF%FE&state[]=1',
      `?state=${'a'.repeat(5000)}`,
    ]) {
      const answer = await browser.get(`/login/oidc/acme/callback${query}`);
      expect(answer.status, query).toBeLessThan(500);
    }
  });

  it('a provider that cannot be reached is a 503 page, not a 500', async () => {
    const down = await t.sibling({
      OIDC_PROVIDERS: 'down',
      OIDC_DOWN_ISSUER: 'http://127.0.0.1:9',
      OIDC_DOWN_CLIENT_ID: 'x',
      OIDC_DOWN_CLIENT_SECRET: 'y',
    });
    const answer = await visitor(down.app).submit('/login', '/login/oidc/down', {});
    expect(answer.status).toBe(503);
    expect(answer.text).toContain('did not confirm who you are');
  });
});

describe('signing in', () => {
  it('Cancel at the provider lands on /login with a message (next kept), never a 500', async () => {
    const browser = visitor(t.app);
    const { answer } = await signInWithProvider(browser, 'acme', {}, { fields: { next: '/account' } });
    expect(answer.status).toBe(303);
    expect(answer.headers['location']).toBe('/login?next=%2Faccount');
    const page = await browser.get('/login?next=%2Faccount');
    expect(flashesOn(page.text)).toContain(
      'Signing in with Acme ID was cancelled or did not finish. Try again, or log in another way.',
    );
    expect(await isLoggedIn(browser)).toBe(false);
  });

  it('a new identity makes an account with the provider name, no password, and lands on next', async () => {
    const person = personAtAcme({ name: 'Ada from Acme' });
    const browser = visitor(t.app);
    const { answer } = await signInWithProvider(browser, 'acme', { as: person.sub }, { fields: { next: '/account' } });
    expect(answer.headers['location']).toBe('/account');
    const row = await userByEmail(t, person.email);
    expect(row?.name).toBe('Ada from Acme');
    expect(row?.password_hash).toBeNull();
    const identity = (await identitiesWith(person.sub))[0];
    expect(identity).toMatchObject({
      user_id: row?.id,
      provider: 'acme',
      issuer: idp.issuer,
      email_seen: person.email,
    });
    expect(await eventKindsOf(t, row?.id ?? '')).toEqual(
      expect.arrayContaining(['signup', 'identity_linked', 'email_verified', 'login']),
    );
  });

  it('a known identity signs its account in again: no new account, last use noted, a new browser told by mail', async () => {
    const made = await accountFromAcme();
    await made.browser.submit('/', '/logout', {});
    const mark = await mailMark(t);
    const browser = visitor(t.app, uniqueIp());
    const { answer } = await signInWithProvider(browser, 'acme', { as: made.sub });
    expect(answer.status).toBe(303);
    expect(await loggedInAs(browser)).toBe(made.email);
    expect(await usersWith(made.email)).toBe(1);
    expect((await identitiesWith(made.sub))[0]?.last_used_at).not.toBeNull();
    await waitForMailTo(t, made.email, 'new-sign-in', mark);
    // A whole login earns the browser its device cookie.
    const cookies = answer.headers['set-cookie'] as unknown as string[];
    expect(cookies.some((line) => line.startsWith('gatehouse.device='))).toBe(true);
  });

  it('the account made by the first sign-in is not told of its own first browser', async () => {
    const mark = await mailMark(t);
    const made = await accountFromAcme();
    expect((await mailsAfter(t, mark)).filter((mail) => mail.to === made.email)).toEqual([]);
  });

  it('a deactivated account cannot sign in with its identity, nor keep an open session', async () => {
    const made = await accountFromAcme();
    await t.pool.query('UPDATE users SET is_active = false WHERE id = $1', [made.id]);
    expect(await isLoggedIn(made.browser)).toBe(false);
    const browser = visitor(t.app);
    const { answer } = await signInWithProvider(browser, 'acme', { as: made.sub });
    expect(answer.status).toBe(403);
    expect(unescapeHtml(answer.text)).toContain('That account is deactivated.');
    expect(await isLoggedIn(browser)).toBe(false);
  });

  it('a provider that gives no address makes no account', async () => {
    const sub = `noemail-${process.pid}-${++counter}`;
    idp.people.set(sub, { name: 'No Mail' });
    const browser = visitor(t.app);
    const { answer } = await signInWithProvider(browser, 'acme', { as: sub });
    await expectBackOnLogin(browser, answer, /did not give us an email address/);
    expect(await identitiesWith(sub)).toEqual([]);
  });

  it('no provider token is kept: not in the session, not in the identity, not in the log', async () => {
    const person = personAtAcme();
    const browser = visitor(t.app);
    const { callback } = await signInWithProvider(browser, 'acme', { as: person.sub });
    const code = callback.searchParams.get('code') ?? 'no code';
    const { rows } = await t.pool.query<{ sess: unknown }>(
      'SELECT sess FROM sessions WHERE user_id = (SELECT id FROM users WHERE email = $1)',
      [person.email],
    );
    const stored = JSON.stringify(rows) + JSON.stringify(await identitiesWith(person.sub));
    expect(stored).not.toMatch(/token|eyJ/);
    expect(t.logs.join('')).not.toContain(code);
    expect(t.logs.join('')).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./);
    const columns = await t.pool.query<{ column_name: string }>(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'identities'",
    );
    expect(columns.rows.map((row) => row.column_name).join(' ')).not.toMatch(/token|secret/);
  });
});

describe('everything else applies to provider sign-ins', () => {
  it('REQUIRE_VERIFIED_EMAIL: an unproven address is refused at login (the link offered again); a proven one logs in', async () => {
    const strict = await t.sibling({ REQUIRE_VERIFIED_EMAIL: 'true' });
    const unproven = personAtAcme({ verified: false });
    const browser = visitor(strict.app);
    const { answer } = await signInWithProvider(browser, 'acme', { as: unproven.sub });
    expect(answer.status).toBe(403);
    expect(answer.text).toContain('Send the confirmation link again');
    expect(await isLoggedIn(browser)).toBe(false);

    const proven = personAtAcme({ verified: true });
    const other = visitor(strict.app);
    expect((await signInWithProvider(other, 'acme', { as: proven.sub })).answer.status).toBe(303);
    expect(await isLoggedIn(other)).toBe(true);
  });

  it('SESSIONS_PER_USER: a provider sign-in beyond the cap ends the least recently used session', async () => {
    const capped = await t.sibling({ SESSIONS_PER_USER: '1' });
    const person = personAtAcme();
    const first = visitor(capped.app);
    expect((await signInWithProvider(first, 'acme', { as: person.sub })).answer.status).toBe(303);
    const second = visitor(capped.app);
    expect((await signInWithProvider(second, 'acme', { as: person.sub })).answer.status).toBe(303);
    expect(await isLoggedIn(second)).toBe(true);
    expect(await isLoggedIn(first)).toBe(false);
  });

  it('answers that fail their checks count against the network: over the limit, a 429', async () => {
    const limited = await t.sibling({ LOGIN_FAILURES_PER_IP: '2' });
    const ip = uniqueIp();
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      const browser = visitor(limited.app, ip);
      expect((await browser.submit('/login', '/login/oidc/acme', {})).status).toBe(303);
      statuses.push(
        (
          await browser.get(
            `/login/oidc/acme/callback?code=forged&state=${'b'.repeat(43)}&iss=${encodeURIComponent(idp.issuer)}`,
          )
        ).status,
      );
    }
    expect(statuses).toEqual([303, 303, 429]);
  });

  it('a new account by a provider counts as a signup from the network', async () => {
    const limited = await t.sibling({ SIGNUPS_PER_IP: '1' });
    const ip = uniqueIp();
    expect((await signInWithProvider(visitor(limited.app, ip), 'acme', { as: personAtAcme().sub })).answer.status).toBe(
      303,
    );
    const refused = await signInWithProvider(visitor(limited.app, ip), 'acme', { as: personAtAcme().sub });
    expect(refused.answer.status).toBe(429);
  });
});

describe('connecting and disconnecting on /account/security', () => {
  it('connecting needs a recent login: an old one goes through "confirm it is you" first', async () => {
    const user = await signUp(t);
    await loginAgo(t, user.browser, 30);
    const started = await user.browser.submit('/account/security', '/account/identities/acme/connect', {});
    expect(started.status).toBe(303);
    expect(started.headers['location']).toMatch(/^\/account\/confirm\?next=/);
  });

  it('connecting links the identity, tells the owner, writes auth_events, and the security page lists it', async () => {
    const user = await signUp(t);
    const person = personAtAcme();
    const mark = await mailMark(t);
    const answer = await connect(user.browser, 'acme', person.sub);
    expect(answer.headers['location']).toBe('/account/security');
    expect((await identitiesWith(person.sub))[0]?.user_id).toBe(user.id);
    expect(await eventKindsOf(t, user.id)).toContain('identity_linked');
    const notice = await waitForMailTo(t, user.email, 'security-change', mark);
    expect(notice.text).toContain('Your Acme ID account was connected to your Gatehouse account');
    const page = await user.browser.get('/account/security');
    expect(flashesOn(page.text)).toContain('Acme ID is connected: you can now sign in with it.');
    expect(page.text).toContain('Disconnect');
    // It now signs in to this account, the address at the provider notwithstanding.
    const browser = visitor(t.app);
    expect((await signInWithProvider(browser, 'acme', { as: person.sub })).answer.status).toBe(303);
    expect(await loggedInAs(browser)).toBe(user.email);
  });

  it('connecting the same identity twice changes nothing', async () => {
    const user = await signUp(t);
    const person = personAtAcme();
    await connect(user.browser, 'acme', person.sub);
    await connect(user.browser, 'acme', person.sub);
    const page = await user.browser.get('/account/security');
    expect(flashesOn(page.text).join(' ')).toContain('already connected to your account');
    expect(await identitiesOf(user.id)).toHaveLength(1);
  });

  it('an answer for a connect started by another account is not applied to this one', async () => {
    const owner = await signUp(t);
    const person = personAtAcme();
    const started = await owner.browser.submit('/account/security', '/account/identities/acme/connect', {});
    const callback = await throughProvider(started.headers['location'] ?? '', { as: person.sub });
    // The browser changes hands: someone else logs in there before the answer arrives.
    await owner.browser.submit('/', '/logout', {});
    const other = await signUp(t);
    for (const cookie of owner.browser.agent.jar.getCookies({
      domain: '127.0.0.1',
      path: '/login/oidc',
      secure: false,
      script: false,
    })) {
      other.browser.agent.jar.setCookie(`${cookie.name}=${cookie.value}; Path=${cookie.path}`, '127.0.0.1', '/');
    }
    const answer = await other.browser.get(onApp(callback));
    expect(answer.status).toBe(303);
    expect(await identitiesWith(person.sub)).toEqual([]);
  });

  it('the last way in cannot be disconnected; with a password it can, and the owner is told', async () => {
    const made = await accountFromAcme();
    const [identity] = (
      await t.pool.query<{ id: string }>('SELECT id::text AS id FROM identities WHERE subject = $1', [made.sub])
    ).rows;
    const refused = await made.browser.submit('/account/security', '/account/identities/disconnect', {
      id: identity?.id ?? '',
    });
    expect(refused.status).toBe(303);
    const page = await made.browser.get('/account/security');
    expect(flashesOn(page.text).join(' ')).toContain('This is the only way into your account.');
    expect(await identitiesWith(made.sub)).toHaveLength(1);

    const user = await signUp(t);
    const person = personAtAcme();
    await connect(user.browser, 'acme', person.sub);
    const [linked] = (
      await t.pool.query<{ id: string }>('SELECT id::text AS id FROM identities WHERE subject = $1', [person.sub])
    ).rows;
    const mark = await mailMark(t);
    const done = await user.browser.submit('/account/security', '/account/identities/disconnect', {
      id: linked?.id ?? '',
    });
    expect(done.status).toBe(303);
    expect(await identitiesWith(person.sub)).toEqual([]);
    expect(await eventKindsOf(t, user.id)).toContain('identity_unlinked');
    const notice = await waitForMailTo(t, user.email, 'security-change', mark);
    expect(notice.text).toContain('Your Acme ID account was disconnected');
  });

  it('two disconnects at once cannot leave an account without a password with no way in', async () => {
    const made = await accountFromAcme();
    const second = personAtAcme();
    expect((await connect(made.browser, 'acme', second.sub)).headers['location']).toBe('/account/security');
    const ids = (
      await t.pool.query<{ id: string }>('SELECT id::text AS id FROM identities WHERE user_id = $1', [made.id])
    ).rows.map((row) => row.id);
    expect(ids).toHaveLength(2);
    const csrf = await made.browser.csrfFrom('/account/security');
    await Promise.all(
      ids.map((id) => made.browser.agent.post('/account/identities/disconnect').type('form').send({ _csrf: csrf, id })),
    );
    expect(await identitiesOf(made.id)).toHaveLength(1);
  });

  it('disconnecting needs a recent login, and another account identity id does nothing', async () => {
    const made = await accountFromAcme();
    const [identity] = (
      await t.pool.query<{ id: string }>('SELECT id::text AS id FROM identities WHERE subject = $1', [made.sub])
    ).rows;
    const user = await signUp(t);
    await user.browser.submit('/account/security', '/account/identities/disconnect', { id: identity?.id ?? '' });
    expect(await identitiesWith(made.sub)).toHaveLength(1);
    await loginAgo(t, user.browser, 30);
    const old = await user.browser.submit('/account/security', '/account/identities/disconnect', {
      id: identity?.id ?? '',
    });
    expect(old.headers['location']).toMatch(/^\/account\/confirm/);
  });
});

describe('GitHub', () => {
  it('a primary verified address makes an account keyed by the numeric id, which a new login name keeps', async () => {
    const person = personAtGithub();
    const browser = visitor(t.app);
    expect((await signInWithProvider(browser, 'github', { as: person.login })).answer.status).toBe(303);
    const row = await userByEmail(t, person.email);
    expect(row?.email_verified_at).not.toBeNull();
    const identity = (await identitiesWith(String(person.id)))[0];
    expect(identity).toMatchObject({ provider: 'github', issuer: github.webUrl, user_id: row?.id });

    // The person renames their GitHub login: the identity is the same.
    const renamed = `${person.login}-renamed`;
    github.people.set(renamed, { ...github.people.get(person.login)!, login: renamed });
    const again = visitor(t.app);
    expect((await signInWithProvider(again, 'github', { as: renamed })).answer.status).toBe(303);
    expect(await loggedInAs(again)).toBe(person.email);
  });

  it('an unverified primary address is not proven: a verification link is mailed', async () => {
    const person = personAtGithub(uniqueEmail('gh'), false);
    const mark = await mailMark(t);
    expect((await signInWithProvider(visitor(t.app), 'github', { as: person.login })).answer.status).toBe(303);
    expect((await userByEmail(t, person.email))?.email_verified_at).toBeNull();
    await waitForMailTo(t, person.email, 'verify-email', mark);
  });

  it('an address an account already has is not linked', async () => {
    const owner = await signUp(t);
    const person = personAtGithub(owner.email, true);
    const browser = visitor(t.app);
    expect((await signInWithProvider(browser, 'github', { as: person.login })).answer.status).toBe(409);
    expect(await identitiesWith(String(person.id))).toEqual([]);
  });

  it('Cancel lands on /login with a message; a forged state is refused', async () => {
    const browser = visitor(t.app);
    const { answer } = await signInWithProvider(browser, 'github', {});
    await expectBackOnLogin(browser, answer, /cancelled/);
    const person = personAtGithub();
    const callback = await answerFor(browser, person.login, 'github');
    callback.searchParams.set('state', 'c'.repeat(43));
    await expectBackOnLogin(browser, await browser.get(onApp(callback)), /did not confirm who you are/);
    expect(await isLoggedIn(browser)).toBe(false);
  });
});

describe('accounts without a password', () => {
  it('the password page offers "Set a password" by a mailed link instead of asking for the current one', async () => {
    const made = await accountFromAcme();
    const page = await made.browser.get('/account/password');
    expect(page.text).toContain('Set a password');
    expect(page.text).not.toContain('name="current"');
    // Every account page offers it where a current password would be asked for.
    expect((await made.browser.get('/account/email')).text).toContain('action="/account/password/set"');

    const mark = await mailMark(t);
    const asked = await made.browser.submit('/account/password', '/account/password/set', {});
    expect(asked.status).toBe(303);
    const link = await waitForMailTo(t, made.email, 'password-reset', mark);
    expect(link.text).toContain('/password/reset?token=');
    expect(flashesOn((await made.browser.get('/account/password')).text).join(' ')).toContain(
      `We have sent a link to ${made.email}.`,
    );
  });

  it('an account with a password is shown the usual form, and is not mailed a link by "Set a password"', async () => {
    const user = await signUp(t);
    expect((await user.browser.get('/account/password')).text).toContain('name="current"');
    expect((await user.browser.get('/account/email')).text).not.toContain('action="/account/password/set"');
    const mark = await mailMark(t);
    await user.browser.submit('/account/password', '/account/password/set', {});
    expect((await mailsAfter(t, mark)).filter((mail) => mail.to === user.email)).toEqual([]);
  });

  it('no password matches an account without one, and the password login is refused as for any wrong password', async () => {
    const made = await accountFromAcme();
    for (const password of ['', 'null', 'undefined', 'correct horse battery staple']) {
      const answer = await visitor(t.app).submit('/login', '/login', { email: made.email, password });
      expect(answer.status).toBe(422);
    }
    const wrongCurrent = await made.browser.submit('/account/email', '/account/email', {
      email: uniqueEmail('moved'),
      password: 'anything at all',
    });
    expect(wrongCurrent.status).toBe(422);
  });

  it('"confirm it is you" offers signing in again at the provider (prompt=login, max_age=0), which opens the page', async () => {
    const made = await accountFromAcme();
    await loginAgo(t, made.browser, 30);
    const gate = await made.browser.get('/account/export');
    expect(gate.headers['location']).toBe('/account/confirm?next=%2Faccount%2Fexport');
    const confirm = await made.browser.get('/account/confirm?next=%2Faccount%2Fexport');
    expect(confirm.text).toContain('Sign in again with Acme ID');
    expect(confirm.text).not.toContain('name="password"');

    const started = await made.browser.submit(
      '/account/confirm?next=%2Faccount%2Fexport',
      '/account/confirm/provider/acme',
      { next: '/account/export' },
    );
    expect(started.status).toBe(303);
    const url = new URL(started.headers['location'] ?? '');
    expect(url.searchParams.get('prompt')).toBe('login');
    expect(url.searchParams.get('max_age')).toBe('0');
    const callback = await throughProvider(url.href, { as: made.sub });
    const back = await made.browser.get(onApp(callback));
    expect(back.headers['location']).toBe('/account/export');
    expect((await made.browser.get('/account/export')).status).toBe(200);
    expect(await eventKindsOf(t, made.id)).toContain('login_confirmed');
  });

  it('a provider that does not sign the person in again (its auth_time older than the request) confirms nothing', async () => {
    const lax = await startOidcProvider(['lax'], APP_URL, { ignoresReauthentication: true });
    try {
      const app = await t.sibling({ OIDC_PROVIDERS: 'acme,lax', ...lax.env('lax') });
      const sub = `lax-${process.pid}-${++counter}`;
      lax.people.set(sub, { email: uniqueEmail('lax'), email_verified: true });
      const atProvider = providerBrowser(lax.issuer);
      const browser = visitor(app.app);
      expect((await signInWithProvider(browser, 'lax', { as: sub, session: atProvider })).answer.status).toBe(303);
      await loginAgo(t, browser, 30);
      // A minute later (both clocks: the provider runs in this process), the provider answers from its old sign-in.
      vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
      let back: Response;
      try {
        vi.setSystemTime(Date.now() + 60_000);
        const started = await browser.submit('/account/confirm', '/account/confirm/provider/lax', {
          next: '/account/export',
        });
        const callback = await throughProvider(started.headers['location'] ?? '', { as: sub, session: atProvider });
        back = await browser.get(onApp(callback));
      } finally {
        vi.useRealTimers();
      }
      expect(back.status).toBe(303);
      const id = (
        await t.pool.query<{ user_id: string }>('SELECT user_id::text FROM identities WHERE subject = $1', [sub])
      ).rows[0]?.user_id;
      expect(await eventKindsOf(t, id ?? '')).not.toContain('login_confirmed');
      expect((await browser.get('/account/export')).status).toBe(302);
    } finally {
      await lax.close();
    }
  });

  it('GitHub cannot be asked for a new sign-in: an account with only GitHub is offered "Set a password" there', async () => {
    const person = personAtGithub();
    const browser = visitor(t.app);
    expect((await signInWithProvider(browser, 'github', { as: person.login })).answer.status).toBe(303);
    const page = await browser.get('/account/confirm?next=%2Faccount%2Fexport');
    expect(page.text).not.toContain('Sign in again with GitHub');
    expect(page.text).toContain('action="/account/password/set"');
    const csrf = await browser.csrfFrom('/account/confirm');
    expect(
      (await browser.agent.post('/account/confirm/provider/github').type('form').send({ _csrf: csrf })).status,
    ).toBe(404);
  });

  it('signing in again as another identity confirms nothing', async () => {
    const made = await accountFromAcme();
    const stranger = personAtAcme();
    await loginAgo(t, made.browser, 30);
    const started = await made.browser.submit('/account/confirm', '/account/confirm/provider/acme', {
      next: '/account/export',
    });
    const callback = await throughProvider(started.headers['location'] ?? '', { as: stranger.sub });
    const back = await made.browser.get(onApp(callback));
    expect(back.headers['location']).toMatch(/^\/account\/confirm/);
    expect((await made.browser.get('/account/export')).status).toBe(302);
  });
});

describe('the export and the admin command', () => {
  it('the export lists the identities (provider, issuer, subject, address seen, dates) and no token', async () => {
    const made = await accountFromAcme();
    const download = await made.browser.submit('/account/export', '/account/export', {});
    expect(download.status).toBe(200);
    const data = JSON.parse(download.text) as { sign_in_providers: unknown[] };
    expect(data.sign_in_providers).toEqual([
      {
        provider: 'acme',
        issuer: idp.issuer,
        subject: made.sub,
        email_seen: made.email,
        linked_at: expect.any(String) as unknown,
        last_used_at: expect.any(String) as unknown,
      },
    ]);
    expect(download.text).not.toMatch(/token|eyJ/);
  });

  it('show lists a user identities and whether they have a password; identity:remove removes one, audited and mailed', async () => {
    const made = await accountFromAcme();
    const [row] = (
      await t.pool.query<{ id: string }>('SELECT id::text AS id FROM identities WHERE subject = $1', [made.sub])
    ).rows;
    const lines: string[] = [];
    const io = { out: (...out: string[]) => lines.push(...out), interactive: false, ask: async () => null };
    const admin = adminServices(t.config, t.pool);
    await showUser(admin.accounts, admin.factors, io, { email: made.email }, admin.identities);
    const shown = lines.join('\n');
    expect(shown).toContain('Password: none');
    expect(shown).toMatch(new RegExp(`${row?.id}\\s+acme\\s+${made.sub}\\s+${made.email.replace(/[.+]/g, '\\$&')}`));

    expect(parseInvocation(['identity:remove', made.email, row?.id ?? ''])).toEqual({
      command: 'identity:remove',
      email: made.email,
      id: Number(row?.id),
    });
    expect(() => parseInvocation(['identity:remove', made.email])).toThrow(/takes EMAIL and ID/);
    const mark = await mailMark(t);
    lines.length = 0;
    await removeIdentity(admin.accounts, admin.identities, io, { email: made.email, id: Number(row?.id) });
    expect(lines.join('\n')).toContain(`Removed sign-in provider identity ${row?.id} from ${made.email}.`);
    expect(await identitiesWith(made.sub)).toEqual([]);
    expect(await detailsOf(t, made.id, 'identity_unlinked')).toEqual(['acme, by the admin command']);
    await waitForMailTo(t, made.email, 'security-change', mark);
    await expect(
      removeIdentity(admin.accounts, admin.identities, io, { email: made.email, id: Number(row?.id) }),
    ).rejects.toThrow(/has no sign-in provider identity/);
  });
});

describe('Apple: the answer comes back by form_post (a cross-site POST)', () => {
  let apple: TestApp;
  beforeAll(async () => {
    apple = await t.sibling({ OIDC_PROVIDERS: 'acme,apple', ...idp.env('apple') });
  });

  it('asks for response_mode=form_post; the POSTed answer, without a CSRF token, signs in', async () => {
    const person = personAtAcme();
    const browser = visitor(apple.app);
    const started = await browser.submit('/login', '/login/oidc/apple', {});
    expect(new URL(started.headers['location'] ?? '').searchParams.get('response_mode')).toBe('form_post');
    const callback = await throughProvider(started.headers['location'] ?? '', { as: person.sub });
    const answer = await deliverAnswer(browser, callback, idp.issuer);
    expect(answer.status).toBe(303);
    expect(answer.headers['location']).toBe('/');
    expect(await loggedInAs(browser)).toBe(person.email);
  });

  it('the POST only sends the browser on (no cookie read, nothing written); another browser gets nothing from it', async () => {
    const person = personAtAcme();
    const browser = visitor(apple.app);
    const started = await browser.submit('/login', '/login/oidc/apple', {});
    const callback = await throughProvider(started.headers['location'] ?? '', { as: person.sub });
    const stranger = visitor(apple.app);
    const sessionsBefore = await sessionCount(t);
    const posted = await stranger.agent
      .post(callback.pathname)
      .set('Origin', idp.issuer)
      .set('Sec-Fetch-Site', 'cross-site')
      .type('form')
      .send({ ...Object.fromEntries(callback.searchParams), extra: 'dropped' });
    expect(posted.status).toBe(303);
    expect(posted.headers['location']).toMatch(/^\/login\/oidc\/apple\/callback\?code=[^&]+&state=[^&]+&iss=/);
    expect(posted.headers['location']).not.toContain('extra');
    expect(posted.headers['set-cookie']).toBeUndefined();
    expect(await sessionCount(t)).toBe(sessionsBefore);
    await expectBackOnLogin(
      stranger,
      await stranger.get(posted.headers['location'] ?? ''),
      /expired or was already used/,
    );
    expect(await isLoggedIn(stranger)).toBe(false);
    expect(await identitiesWith(person.sub)).toEqual([]);
  });

  it('Cancel comes back by POST too, and lands on /login with a message', async () => {
    const browser = visitor(apple.app);
    const { answer } = await signInWithProvider(browser, 'apple', {});
    await expectBackOnLogin(browser, answer, /cancelled/);
  });

  it('no other POST goes without its token: a provider that does not use form_post, and every other form', async () => {
    const browser = visitor(apple.app);
    const cross = (path: string) =>
      browser.agent
        .post(path)
        .set('Origin', idp.issuer)
        .set('Sec-Fetch-Site', 'cross-site')
        .type('form')
        .send({ code: 'x' });
    expect((await cross('/login/oidc/acme/callback')).status).toBe(404);
    expect((await cross('/login')).status).toBe(403);
    expect((await cross('/login/oidc/apple')).status).toBe(403);
    expect((await cross('/login/oidc/apple/callback/')).status).toBe(403);
  });
});

describe('configuration', () => {
  const base = { OIDC_ACME_CLIENT_ID: 'id', OIDC_ACME_CLIENT_SECRET: 'secret' };
  it('the presets know their issuer and label; any other provider needs its issuer', () => {
    const config = parseConfig({
      OIDC_PROVIDERS: 'google, microsoft,gitlab,apple',
      ...Object.fromEntries(
        ['GOOGLE', 'MICROSOFT', 'GITLAB', 'APPLE'].flatMap((key) => [
          [`OIDC_${key}_CLIENT_ID`, 'id'],
          [`OIDC_${key}_CLIENT_SECRET`, 'secret'],
        ]),
      ),
    });
    expect(config.identityProviders.map((provider) => [provider.name, provider.label])).toEqual([
      ['google', 'Google'],
      ['microsoft', 'Microsoft'],
      ['gitlab', 'GitLab'],
      ['apple', 'Apple'],
    ]);
    expect(config.identityProviders[1]).toMatchObject({ issuer: 'https://login.microsoftonline.com/common/v2.0' });
    expect(() => parseConfig({ OIDC_PROVIDERS: 'acme', ...base })).toThrow(
      /^Invalid configuration: OIDC_ACME_ISSUER must be set$/,
    );
    expect(() =>
      parseConfig({ OIDC_PROVIDERS: 'acme', OIDC_ACME_ISSUER: 'https://id.acme.example', OIDC_ACME_CLIENT_ID: 'x' }),
    ).toThrow(/OIDC_ACME_CLIENT_SECRET must be set/);
    expect(() => parseConfig({ OIDC_PROVIDERS: 'Acme!' })).toThrow(/OIDC_PROVIDERS/);
  });

  it('an issuer must be https in production; http only on this machine, and only outside production', () => {
    const production = {
      NODE_ENV: 'production',
      SESSION_SECRET: 'x'.repeat(40),
      PUBLIC_URL: 'https://accounts.example.com',
      MAIL_TRANSPORT: 'outbox',
    };
    const acme = (issuer: string) => ({ OIDC_PROVIDERS: 'acme', OIDC_ACME_ISSUER: issuer, ...base });
    expect(() => parseConfig({ ...production, ...acme('http://127.0.0.1:4000') })).toThrow(
      /OIDC_ACME_ISSUER must be an https:\/\/ URL/,
    );
    expect(parseConfig({ ...production, ...acme('https://id.acme.example/') }).identityProviders[0]).toMatchObject({
      issuer: 'https://id.acme.example',
    });
    expect(parseConfig(acme('http://localhost:4000')).identityProviders).toHaveLength(1);
    expect(() => parseConfig(acme('http://id.acme.example'))).toThrow(/OIDC_ACME_ISSUER/);
    expect(() =>
      parseConfig({
        ...production,
        GITHUB_CLIENT_ID: 'a',
        GITHUB_CLIENT_SECRET: 'b',
        GITHUB_URL: 'http://localhost:1',
      }),
    ).toThrow(/GITHUB_URL/);
    expect(() => parseConfig({ GITHUB_CLIENT_ID: 'a' })).toThrow(/GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET/);
  });

  it('.env.example names every provider key', () => {
    const listed = readFileSync(new URL('../.env.example', import.meta.url), 'utf8');
    for (const key of [
      'OIDC_PROVIDERS',
      'OIDC_ACME_ISSUER',
      'OIDC_ACME_CLIENT_ID',
      'OIDC_ACME_CLIENT_SECRET',
      'OIDC_ACME_LABEL',
      'GITHUB_CLIENT_ID',
      'GITHUB_CLIENT_SECRET',
      'GITHUB_URL',
      'GITHUB_API_URL',
    ]) {
      expect(listed).toMatch(new RegExp(`^#? ?${key}=`, 'm'));
    }
  });
});
