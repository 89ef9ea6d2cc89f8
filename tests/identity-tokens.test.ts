import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { uniqueEmail } from './support/browser.js';
import { type ForgingProvider, startForgingProvider } from './support/forging-provider.js';
import { signInWithProvider } from './support/identity-provider.js';
import { flashesOn, isLoggedIn } from './support/pages.js';
import { type TestApp, startTestApp } from './support/test-app.js';
import { userByEmail, visitor } from './support/users.js';

/**
 * Issue 21: the callback checks the ID token's audience, expiry, nonce and signature algorithm
 * (openid-client does, as configured by oidc-provider-client.ts). A provider that forges one
 * field at a time shows each check refusing; an honest token from the same provider signs in,
 * so a refusal is the check's and not a broken provider's.
 */

let idp: ForgingProvider;
let t: TestApp;
let counter = 0;
beforeAll(async () => {
  idp = await startForgingProvider('forged');
  t = await startTestApp({ TRUST_PROXY: 'loopback', OIDC_PROVIDERS: 'forged', ...idp.env('forged') });
});
afterAll(async () => {
  await t?.close();
  await idp?.close();
});
beforeEach(() => {
  counter += 1;
  idp.person = { sub: `forged-${process.pid}-${counter}`, email: uniqueEmail('forged') };
  idp.forge = {};
});

const identitiesWith = async (subject: string) =>
  (await t.pool.query('SELECT id FROM identities WHERE subject = $1', [subject])).rowCount;

describe('the ID token from the provider', () => {
  it('an honest one signs in: an account and its identity are made', async () => {
    const browser = visitor(t.app);
    const { answer } = await signInWithProvider(browser, 'forged', { as: idp.person.sub });
    expect(answer.status, answer.text.slice(0, 300)).toBe(303);
    expect(answer.headers['location']).toBe('/');
    expect(await isLoggedIn(browser)).toBe(true);
    expect(await identitiesWith(idp.person.sub)).toBe(1);
  });

  it.each<[string, ForgingProvider['forge']]>([
    ['for another client (aud)', { aud: 'another-client' }],
    ['expired (exp)', { expiresIn: -600 }],
    ['for another sign-in (nonce)', { nonce: 'a-nonce-from-another-sign-in' }],
    ['from another issuer inside the token (iss)', { iss: 'https://idp.example.test' }],
    ['signed with HS256 under the client secret', { signature: 'hs256' }],
    ['not signed (alg none)', { signature: 'none' }],
    ['signed by a key the provider does not publish', { signature: 'unknown-key' }],
  ])('one %s is refused: back on /login, nobody logged in, nothing made', async (_what, forge) => {
    idp.forge = forge;
    const browser = visitor(t.app);
    const { answer } = await signInWithProvider(browser, 'forged', { as: idp.person.sub });
    expect(answer.status, answer.text.slice(0, 300)).toBe(303);
    expect(answer.headers['location']).toMatch(/^\/login(\?|$)/);
    const page = await browser.get(answer.headers['location'] ?? '/login');
    expect(flashesOn(page.text).join(' ')).toMatch(/did not confirm who you are/);
    expect(await isLoggedIn(browser)).toBe(false);
    expect(await identitiesWith(idp.person.sub)).toBe(0);
    expect(await userByEmail(t, idp.person.email)).toBeUndefined();
  });
});
