import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { Express } from 'express';
import request from 'supertest';
import TestAgent from 'supertest/lib/agent.js';

/** A visitor with a cookie jar who fills in forms the way a browser would: token included. */
export class Browser {
  readonly agent: TestAgent;

  /** On the app (supertest serves it on a server of its own per request), or on a listening server of the app's. */
  constructor(readonly app: Express | Server) {
    this.agent = request.agent(app);
  }

  /** Loads `path` with the browser's cookies. */
  get(path: string) {
    return this.agent.get(path);
  }

  /** The hidden _csrf value of the form on the page at `pagePath`. */
  async csrfFrom(pagePath: string): Promise<string> {
    const page = await this.agent.get(pagePath);
    const token = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1];
    if (!token) throw new Error(`no _csrf token on ${pagePath} (status ${page.status})`);
    return token;
  }

  /** Loads the form page, then posts `fields` with its token, as a browser submits a form. */
  async submit(pagePath: string, action: string, fields: Record<string, string | string[]>) {
    const _csrf = await this.csrfFrom(pagePath);
    return this.agent
      .post(action)
      .type('form')
      .send({ _csrf, ...fields });
  }

  /** The session cookie as the browser holds it ("name=value"), or undefined. */
  sessionCookie(): string | undefined {
    const cookie = this.agent.jar.getCookie('gatehouse.sid', {
      domain: '127.0.0.1',
      path: '/',
      secure: false,
      script: false,
    });
    return cookie ? `${cookie.name}=${cookie.value}` : undefined;
  }
}

let counter = 0;
/** An address no other test (or test process) uses: `<label>-<pid>-<n>-<random>@example.com`. */
export const uniqueEmail = (label = 'user') =>
  `${label}-${process.pid}-${++counter}-${randomBytes(3).toString('hex')}@example.com`;

/** The password every test user signs up with. */
export const PASSWORD = 'correct horse battery staple';
/** The password the tests change to (a reset, a password change). */
export const NEW_PASSWORD = 'a brand new passphrase 42';

/** The signup form's fields, as a person fills them in. */
export interface SignupFields {
  name: string;
  email: string;
  password: string;
  confirm: string;
  website: string;
}

/** Signup fields that pass: a unique email, PASSWORD twice, no website; `overrides` replace any of them. */
export function signupFields(overrides: Partial<SignupFields> = {}): SignupFields {
  return {
    name: 'Ada Lovelace',
    email: uniqueEmail(),
    password: PASSWORD,
    confirm: PASSWORD,
    website: '',
    ...overrides,
  };
}

/** Signs up in `browser` with signupFields(overrides); fails the test unless the signup succeeds (a 303). */
export async function signUpIn(browser: Browser, overrides: Partial<SignupFields> = {}) {
  const fields = signupFields(overrides);
  const response = await browser.submit('/signup', '/signup', { ...fields });
  if (response.status !== 303) throw new Error(`signup failed with ${response.status}: ${response.text.slice(0, 500)}`);
  return { browser, fields, response };
}

/** A new browser that has signed up (and so is logged in). */
export const signedUpBrowser = (app: Express, overrides: Partial<SignupFields> = {}) =>
  signUpIn(new Browser(app), overrides);
