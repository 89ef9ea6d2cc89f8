import { randomBytes } from 'node:crypto';
import type { Express } from 'express';
import request from 'supertest';
import TestAgent from 'supertest/lib/agent.js';

/** A visitor with a cookie jar who fills in forms the way a browser would: token included. */
export class Browser {
  readonly agent: TestAgent;

  constructor(readonly app: Express) {
    this.agent = request.agent(app);
  }

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
export const uniqueEmail = (label = 'user') =>
  `${label}-${process.pid}-${++counter}-${randomBytes(3).toString('hex')}@example.com`;

export const PASSWORD = 'correct horse battery staple';
/** The password the tests change to (a reset, a password change). */
export const NEW_PASSWORD = 'a brand new passphrase 42';

export interface SignupFields {
  name: string;
  email: string;
  password: string;
  confirm: string;
  website: string;
}

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

/** A new browser that has signed up (and so is logged in). */
export async function signedUpBrowser(app: Express, overrides: Partial<SignupFields> = {}) {
  const browser = new Browser(app);
  const fields = signupFields(overrides);
  const response = await browser.submit('/signup', '/signup', { ...fields });
  if (response.status !== 303) throw new Error(`signup failed with ${response.status}: ${response.text.slice(0, 500)}`);
  return { browser, fields };
}
