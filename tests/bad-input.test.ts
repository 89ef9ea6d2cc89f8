import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Response } from 'supertest';
import { type TestApp, startTestApp } from './support/test-app.js';
import { Browser, PASSWORD, signedUpBrowser, signupFields, uniqueEmail } from './support/browser.js';

let t: TestApp;
let member: { email: string };
beforeAll(async () => {
  t = await startTestApp();
  // A real account, so that every hostile login below would log in if the body were accepted.
  member = (await signedUpBrowser(t.app)).fields;
});
afterAll(async () => {
  await t.close();
});

const FORM = 'application/x-www-form-urlencoded';
const FORM_LIMIT_BYTES = 16 * 1024;

const userCount = async () => Number((await t.pool.query('SELECT count(*) FROM users')).rows[0].count);
const lastLoginOf = async (email: string): Promise<string> => {
  const { rows } = await t.pool.query('SELECT last_login_at FROM users WHERE email = $1', [email]);
  return (rows[0].last_login_at as Date).toISOString();
};

/** Lines like "    at fn (/path/file.ts:1:2)" or "at async file.js:3:4": the shape of a stack frame. */
const STACK_FRAME = /^\s*at\s.*:\d+:\d+\)?\s*$|\bat (?:async )?[\w$.<>]+ \([^)]*:\d+:\d+\)/m;
const FILE_PATH = /node_modules|\.(?:ts|js|cjs|mjs):\d+|(?:^|[\s"'(])\/(?:home|work|usr|tmp|root|opt|app|var)\//m;

/** A 4xx HTML page for people: a message, and nothing of the server's insides. */
function expectCleanRefusal(response: Response, message: RegExp) {
  expect(response.status).toBeGreaterThanOrEqual(400);
  expect(response.status).toBeLessThan(500);
  expect(response.headers['content-type']).toMatch(/^text\/html/);
  expect(response.text).toMatch(/<html[\s>]/i);
  expect(response.text).toMatch(message);
  expect(response.text).not.toMatch(STACK_FRAME);
  expect(response.text).not.toContain('Error:');
  expect(response.text).not.toMatch(FILE_PATH);
}

const enc = (value: string) => encodeURIComponent(value);

/** A urlencoded body from [name, already-encoded value] pairs. */
const rawForm = (pairs: Array<[string, string]>) => pairs.map(([name, value]) => `${name}=${value}`).join('&');

/** Every field of a valid signup (a fresh email each time), already encoded: alone it would create a user. */
const validSignupPairs = (): Array<[string, string]> =>
  Object.entries(signupFields()).map(([name, value]): [string, string] => [name, enc(value)]);

/** The member's right email and password, encoded: alone it would log them in. */
const validLoginPairs = (): Array<[string, string]> => [
  ['email', enc(member.email)],
  ['password', enc(PASSWORD)],
];

const replace = (pairs: Array<[string, string]>, name: string, value: string) =>
  pairs.map(([key, old]): [string, string] => [key, key === name ? value : old]);

interface HostileCase {
  readonly label: string;
  /** The body, given the visitor's valid token (already encoded). */
  readonly body: (csrf: string) => string | Buffer;
  readonly contentType?: string;
  /** An exact status where the contract or the brief names one; else any 4xx. */
  readonly status?: number;
  readonly message: RegExp;
}

const withToken = (csrf: string, pairs: Array<[string, string]>) => rawForm([['_csrf', csrf], ...pairs]);

/** A body whose `name` (signup) or `email` (login) field carries the given raw bytes. */
const withRawBytes = (csrf: string, pairs: Array<[string, string]>, field: string, bytes: Buffer) => {
  const before = rawForm([['_csrf', csrf], ...pairs.filter(([key]) => key !== field)]);
  return Buffer.concat([Buffer.from(`${before}&${field}=`), bytes]);
};

const TOO_LARGE = /too large|too big/i;
const BAD_ENCODING = /UTF-8|encoding|could not be read/i;
const BAD_FIELDS = /field/i;

function hostileBodies(form: 'signup' | 'login'): HostileCase[] {
  const valid = form === 'signup' ? validSignupPairs : validLoginPairs;
  const textField = form === 'signup' ? 'name' : 'email';
  const padding = 'x'.repeat(FORM_LIMIT_BYTES + 1);
  return [
    {
      label: `a body above 16 KiB`,
      body: (csrf) => withToken(csrf, [...valid(), ['padding', padding]]),
      status: 413,
      message: TOO_LARGE,
    },
    {
      label: `a single ${textField} value that makes the body above 16 KiB`,
      body: (csrf) => withToken(csrf, replace(valid(), textField, padding)),
      status: 413,
      message: TOO_LARGE,
    },
    {
      label: 'a truncated percent-escape (%E0%A4%A)',
      body: (csrf) => withToken(csrf, replace(valid(), textField, '%E0%A4%A')),
      status: 400,
      message: BAD_ENCODING,
    },
    {
      label: 'a percent-escape that is not hex (%ZZ)',
      body: (csrf) => withToken(csrf, replace(valid(), textField, 'Ada%ZZ')),
      status: 400,
      message: BAD_ENCODING,
    },
    {
      label: 'a lone percent sign at the end of a value',
      body: (csrf) => withToken(csrf, replace(valid(), textField, 'Ada%')),
      status: 400,
      message: BAD_ENCODING,
    },
    {
      label: 'a percent-escape of a byte that is not UTF-8 (%FF)',
      body: (csrf) => withToken(csrf, replace(valid(), textField, 'Ada%FFLovelace')),
      status: 400,
      message: BAD_ENCODING,
    },
    {
      label: 'an escaped UTF-8 sequence that is overlong (%C0%AF)',
      body: (csrf) => withToken(csrf, replace(valid(), textField, '%C0%AF')),
      status: 400,
      message: BAD_ENCODING,
    },
    {
      label: 'a raw 0xFF byte in the body',
      body: (csrf) => withRawBytes(csrf, valid(), textField, Buffer.from([0x41, 0x64, 0x61, 0xff, 0x21])),
      status: 400,
      message: BAD_ENCODING,
    },
    {
      label: 'raw Latin-1 bytes (é as 0xE9) in the body',
      body: (csrf) => withRawBytes(csrf, valid(), textField, Buffer.from([0x52, 0x65, 0x6e, 0xe9])),
      status: 400,
      message: BAD_ENCODING,
    },
    {
      label: 'a form declared as charset=iso-8859-1',
      body: (csrf) => withToken(csrf, valid()),
      contentType: `${FORM}; charset=iso-8859-1`,
      message: /UTF-8|encoding|charset/i,
    },
    {
      label: 'a form declared in a charset no one supports',
      body: (csrf) => withToken(csrf, valid()),
      contentType: `${FORM}; charset=x-no-such-charset`,
      message: /UTF-8|encoding|charset/i,
    },
    {
      label: 'an unknown field',
      body: (csrf) => withToken(csrf, [...valid(), ['is_admin', '1']]),
      status: 400,
      message: BAD_FIELDS,
    },
    {
      label: 'a field in bracket notation (email[0])',
      body: (csrf) =>
        withToken(csrf, [...valid().filter(([key]) => key !== 'email'), ['email[0]', enc(uniqueEmail('bracket'))]]),
      status: 400,
      message: BAD_FIELDS,
    },
    {
      label: 'the email field sent twice',
      body: (csrf) => withToken(csrf, [...valid(), ['email', enc(uniqueEmail('twice'))]]),
      status: 400,
      message: BAD_FIELDS,
    },
    {
      label: 'the _csrf field sent twice',
      body: (csrf) => rawForm([['_csrf', csrf], ['_csrf', csrf], ...valid()]),
      message: /field|form/i,
    },
    {
      label: 'more fields than any form of ours has',
      body: (csrf) =>
        withToken(csrf, [...valid(), ...Array.from({ length: 40 }, (_, i): [string, string] => [`f${i}`, 'x'])]),
      message: /field/i,
    },
  ];
}

/**
 * superagent runs every non-string body through its form serialiser, which would
 * turn a Buffer into "0=65&1=100&...": the bytes must go out exactly as built.
 */
const bytesAsTheyAre = (body: unknown): string => body as string;

async function sendHostile(path: '/signup' | '/login', hostile: HostileCase) {
  const browser = new Browser(t.app);
  const csrf = enc(await browser.csrfFrom(path));
  const response = await browser.agent
    .post(path)
    .set('Content-Type', hostile.contentType ?? FORM)
    .serialize(bytesAsTheyAre)
    .send(hostile.body(csrf));
  return { browser, response };
}

describe('hostile form bodies on POST /signup', () => {
  it.each(hostileBodies('signup').map((c) => [c.label, c] as const))(
    'refuses %s with a plain 4xx page and creates no user',
    async (_label, hostile) => {
      const before = await userCount();
      const { response } = await sendHostile('/signup', hostile);
      if (hostile.status !== undefined) expect(response.status).toBe(hostile.status);
      expectCleanRefusal(response, hostile.message);
      expect(await userCount()).toBe(before);
    },
  );

  it.each([
    ['a NUL byte', '\u0000'],
    ['a bell', '\u0007'],
    ['a backspace', '\b'],
    ['an escape (terminal colour codes)', '\u001b[31m'],
    ['a DEL', '\u007f'],
    ['a C1 control (CSI)', '\u009b'],
    ['a newline', '\n'],
  ])('refuses a name holding %s with 422 and the name field marked', async (_label, control) => {
    const before = await userCount();
    const { response } = await sendHostile('/signup', {
      label: 'control',
      body: (csrf) => withToken(csrf, replace(validSignupPairs(), 'name', enc(`Ada${control}Lovelace`))),
      status: 422,
      message: /./,
    });
    expect(response.status).toBe(422);
    expectCleanRefusal(response, /<p class="field-error" id="name-error">[^<]+<\/p>/);
    expect(response.text).toMatch(/<input id="name" name="name"[^>]*aria-invalid="true"/);
    expect(await userCount()).toBe(before);
  });

  it.each([
    ['a 10,000-character name', 'name', 'h'.repeat(10_000), /at most 100 characters/],
    ['a 10,000-character email', 'email', `${'e'.repeat(9988)}@example.com`, /Enter a valid email\./],
    ['a 10,000-character website', 'website', `https://example.com/${'w'.repeat(9980)}`, /Enter a valid URL\./],
    // Password and confirm both carry it, so 7,000 each keeps the body under the limit.
    ['a 7,000-character password', 'password', 'p'.repeat(7_000), /72 bytes/],
  ])('refuses %s (within the size limit) with a 4xx and the field message', async (_label, field, huge, message) => {
    const before = await userCount();
    const { response } = await sendHostile('/signup', {
      label: 'huge',
      body: (csrf) => {
        let pairs = replace(validSignupPairs(), field, enc(huge));
        if (field === 'password') pairs = replace(pairs, 'confirm', enc(huge));
        return withToken(csrf, pairs);
      },
      message,
    });
    expectCleanRefusal(response, message);
    if (field === 'password') expect(response.text).not.toContain(huge);
    expect(await userCount()).toBe(before);
  });
});

describe('hostile form bodies on POST /login', () => {
  it.each(hostileBodies('login').map((c) => [c.label, c] as const))(
    'refuses %s with a plain 4xx page and logs no one in',
    async (_label, hostile) => {
      const before = await userCount();
      const lastLogin = await lastLoginOf(member.email);
      const { browser, response } = await sendHostile('/login', hostile);
      if (hostile.status !== undefined) expect(response.status).toBe(hostile.status);
      expectCleanRefusal(response, hostile.message);
      expect(await userCount()).toBe(before);
      expect(await lastLoginOf(member.email)).toBe(lastLogin);
      expect((await browser.get('/')).status).toBe(302);
    },
  );

  it.each([
    ['a NUL byte in the email', 'email', '\u0000'],
    ['an escape character in the email', 'email', '\u001b'],
    ['a NUL byte after the right password (bcrypt would stop reading there)', 'password', '\u0000'],
  ])('refuses %s with 422 and logs no one in', async (_label, field, control) => {
    const lastLogin = await lastLoginOf(member.email);
    const suffixed = field === 'email' ? `${member.email}${control}` : `${PASSWORD}${control}tail`;
    const { browser, response } = await sendHostile('/login', {
      label: 'control',
      body: (csrf) => withToken(csrf, replace(validLoginPairs(), field, enc(suffixed))),
      message: /./,
    });
    expect(response.status).toBe(422);
    expectCleanRefusal(response, /Invalid email\/password combination\./);
    expect(await lastLoginOf(member.email)).toBe(lastLogin);
    expect((await browser.get('/')).status).toBe(302);
  });

  it.each([
    ['email', `${'e'.repeat(9988)}@example.com`],
    ['password', 'p'.repeat(10_000)],
    ['next', `/${'n'.repeat(9999)}`],
  ])('answers a 10,000-character %s without a 5xx', async (field, huge) => {
    const lastLogin = await lastLoginOf(member.email);
    const pairs: Array<[string, string]> =
      field === 'next' ? [...validLoginPairs(), ['next', enc(huge)]] : replace(validLoginPairs(), field, enc(huge));
    const browser = new Browser(t.app);
    const csrf = enc(await browser.csrfFrom('/login'));
    const response = await browser.agent.post('/login').set('Content-Type', FORM).send(withToken(csrf, pairs));
    expect(response.status).toBeLessThan(500);
    if (field === 'next') {
      // The right password with an absurd next: logged in, and still sent somewhere on this site.
      expect(response.status).toBe(303);
      expect(String(response.headers['location'])).toMatch(/^\/(?![/\\])/);
    } else {
      expectCleanRefusal(response, /Invalid email\/password combination\./);
      expect(await lastLoginOf(member.email)).toBe(lastLogin);
    }
  });
});

describe('odd requests that are not form bodies', () => {
  it('answers a repeated query parameter on GET /login with the login page, not a 500', async () => {
    const response = await new Browser(t.app).get('/login?next=a&next=b');
    expect(response.status).toBe(200);
    expect(response.text).toMatch(/<form method="post" action="\/login"/);
  });

  it('answers bracketed and repeated query parameters on a protected page with the usual redirect', async () => {
    const response = await new Browser(t.app).get('/?x=1&x=2&y[z]=3');
    expect([302, 303]).toContain(response.status);
    expect(response.headers['location']).toBe(`/login?next=${encodeURIComponent('/?x=1&x=2&y[z]=3')}`);
  });

  it('never follows a repeated next after login: the visitor lands on /', async () => {
    const browser = new Browser(t.app);
    const page = await browser.get('/login?next=%2Fa&next=%2F%2Fevil.example');
    expect(page.status).toBe(200);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
    const next = /name="next" value="([^"]*)"/.exec(page.text)?.[1] ?? '';
    expect(next).not.toContain('evil.example');
    const response = await browser.agent
      .post('/login')
      .type('form')
      .send({ _csrf: csrf, email: member.email, password: PASSWORD, next });
    expect(response.status).toBe(303);
    expect(response.headers['location']).not.toMatch(/^\/\/|evil\.example/);
  });

  it.each(['PUT', 'DELETE', 'PATCH'] as const)(
    'answers %s /login with 405 and an Allow header naming GET and POST',
    async (method) => {
      const browser = new Browser(t.app);
      const csrf = await browser.csrfFrom('/login');
      const verb = method === 'PUT' ? 'put' : method === 'DELETE' ? 'delete' : 'patch';
      const response = await browser.agent[verb]('/login').type('form').send({ _csrf: csrf });
      expect(response.status).toBe(405);
      const allow = String(response.headers['allow'] ?? '')
        .split(',')
        .map((m) => m.trim());
      expect(allow).toEqual(expect.arrayContaining(['GET', 'POST']));
      expect(allow).not.toContain(method);
      expectCleanRefusal(response, /./);
    },
  );

  it.each(['PUT', 'DELETE'] as const)(
    'answers %s /login from a client with no form token with 405 too',
    async (method) => {
      const browser = new Browser(t.app);
      const response = method === 'PUT' ? await browser.agent.put('/login') : await browser.agent.delete('/login');
      expect(response.status).toBe(405);
      expect(String(response.headers['allow'] ?? '')).toMatch(/\bPOST\b/);
    },
  );

  it('refuses a JSON body to /login with a 4xx page, even with the right token and password', async () => {
    const before = await userCount();
    const lastLogin = await lastLoginOf(member.email);
    const browser = new Browser(t.app);
    const csrf = await browser.csrfFrom('/login');
    const response = await browser.agent
      .post('/login')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ _csrf: csrf, email: member.email, password: PASSWORD }));
    expectCleanRefusal(response, /./);
    expect(await userCount()).toBe(before);
    expect(await lastLoginOf(member.email)).toBe(lastLogin);
    expect((await browser.get('/')).status).toBe(302);
  });

  it('refuses a malformed JSON body to /signup with a 4xx page, not a 500', async () => {
    const before = await userCount();
    const browser = new Browser(t.app);
    await browser.csrfFrom('/signup');
    const response = await browser.agent.post('/signup').set('Content-Type', 'application/json').send('{"name": ');
    expectCleanRefusal(response, /./);
    expect(await userCount()).toBe(before);
  });
});
