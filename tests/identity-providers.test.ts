import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueEmail } from './support/browser.js';
import {
  type TestGithub,
  type TestOidcProvider,
  onApp,
  signInWithProvider,
  startGithubStandIn,
  startOidcProvider,
  throughProvider,
} from './support/identity-provider.js';
import { mailMark, mailsAfter } from './support/mail.js';
import { flashesOn, isLoggedIn } from './support/pages.js';
import { type TestApp, startTestApp } from './support/test-app.js';
import { userByEmail, visitor } from './support/users.js';

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
function personAtAcme(email = uniqueEmail('idp'), verified = true, name = 'Grace Hopper'): string {
  const sub = `sub-${process.pid}-${++counter}`;
  idp.people.set(sub, { email, email_verified: verified, name });
  return sub;
}

describe('smoke', () => {
  it('a new verified identity makes an account and logs in', async () => {
    const email = uniqueEmail('idp');
    const sub = personAtAcme(email);
    const browser = visitor(t.app);
    const mark = await mailMark(t);
    const { answer } = await signInWithProvider(browser, 'acme', { as: sub });
    expect(answer.status, answer.text.slice(0, 500)).toBe(303);
    expect(answer.headers['location']).toBe('/');
    expect(await isLoggedIn(browser)).toBe(true);
    const row = await userByEmail(t, email);
    expect(row?.password_hash).toBeNull();
    expect(row?.email_verified_at).not.toBeNull();
    expect((await mailsAfter(t, mark)).filter((mail) => mail.to === email)).toEqual([]);
  });

  it('GitHub: a new primary verified address makes an account', async () => {
    const email = uniqueEmail('gh');
    github.people.set('octocat', {
      id: 583231,
      login: 'octocat',
      name: 'The Octocat',
      emails: [{ email, primary: true, verified: true }],
    });
    const browser = visitor(t.app);
    const { answer } = await signInWithProvider(browser, 'github', { as: 'octocat' });
    expect(answer.status, answer.text.slice(0, 500)).toBe(303);
    expect(await isLoggedIn(browser)).toBe(true);
  });

  it('cancel lands on /login with a message', async () => {
    const browser = visitor(t.app);
    const { answer } = await signInWithProvider(browser, 'acme', {});
    expect(answer.status).toBe(303);
    expect(answer.headers['location']).toBe('/login');
    const page = await browser.get('/login');
    expect(flashesOn(page.text).join(' ')).toMatch(/cancelled/);
    void throughProvider;
    void onApp;
  });
});
