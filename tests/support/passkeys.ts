import type { Response } from 'supertest';
import { expect } from 'vitest';
import { type Browser, PASSWORD } from './browser.js';
import type { Lies, SoftwareAuthenticator } from './authenticator.js';

/** The tests' apps take the development default PUBLIC_URL: http://localhost:3000. */
export const ORIGIN = 'http://localhost:3000';
export const RP_ID = 'localhost';

export const json = (response: Response) => JSON.parse(response.text) as Record<string, unknown>;

/** The registration options for a logged-in browser, as the page's script asks for them. */
export async function registrationOptions(browser: Browser) {
  const csrf = await browser.csrfFrom('/account/passkeys');
  const answer = await browser.agent.post('/account/passkeys/options').type('form').send({ _csrf: csrf });
  expect(answer.status).toBe(200);
  expect(answer.headers['content-type']).toMatch(/^application\/json/);
  return json(answer) as unknown as {
    challenge: string;
    rp: { id: string; name: string };
    user: { id: string; name: string; displayName: string };
    attestation?: string;
    authenticatorSelection?: { residentKey?: string; userVerification?: string; requireResidentKey?: boolean };
    excludeCredentials?: Array<{ id: string }>;
    timeout?: number;
  };
}

/** Adds a passkey made by `authenticator` from a logged-in browser; the answer of the form post. */
export async function addPasskey(
  browser: Browser,
  authenticator: SoftwareAuthenticator,
  { name = 'Laptop', password = PASSWORD, lies = {} }: { name?: string; password?: string; lies?: Lies } = {},
) {
  const options = await registrationOptions(browser);
  const credential = authenticator.register(options, lies);
  return browser.submit('/account/passkeys', '/account/passkeys', {
    name,
    password,
    credential: JSON.stringify(credential),
  });
}

/** The sign-in options for a browser (anonymous, pending, or logged in), as a page's script asks. */
export async function signInOptions(browser: Browser, from = '/login') {
  const csrf = await browser.csrfFrom(from);
  const answer = await browser.agent.post('/login/passkey/options').type('form').send({ _csrf: csrf });
  expect(answer.status).toBe(200);
  return {
    options: json(answer) as { challenge: string; rpId: string; allowCredentials?: Array<{ id: string }> },
    csrf,
    answer,
  };
}

/** Posts a sign-in answer as the page's form does. */
export const signInWith = (browser: Browser, csrf: string, credential: unknown, next = '') =>
  browser.agent
    .post('/login/passkey')
    .type('form')
    .send({ _csrf: csrf, credential: JSON.stringify(credential), next });
