import fc from 'fast-check';
import type { Response } from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from './support/test-app.js';
import { Browser, PASSWORD, signedUpBrowser, uniqueEmail } from './support/browser.js';

let t: TestApp;
let account: { email: string; password: string };
beforeAll(async () => {
  // Every run comes from one address: limits are out of the way (a 429 would still be no 5xx).
  t = await startTestApp({
    SIGNUPS_PER_IP: '1000000',
    LOGIN_FAILURES_PER_IP: '1000000',
    LOGIN_FAILURES_PER_ACCOUNT: '1000000',
  });
  const { fields } = await signedUpBrowser(t.app);
  account = { email: fields.email, password: fields.password };
});
afterAll(async () => {
  await t.close();
});

const RUNS = { fields: 100, bytes: 80 };
const PROPERTY_TIMEOUT_MS = 120_000;

// ---- generators -------------------------------------------------------------------

/** Characters that tend to break parsers, encoders, validators and templates. */
// prettier-ignore
const TRICKY = [
  '\u0000', '\u0001', '\t', '\n', '\r', '\r\n', '\u001b', '\u007f', '\u0085', '\u009f', '\u00a0', '\u00ad',
  '\u200b', '\u200e', '\u2028', '\u2029', '\ufeff', '\ufffd', '\uffff', '\ud800', '\udfff', '\ud83d\udd11',
  '%', '%00', '%zz', '%E9', '%C0%AF', '&', '=', '+', ';', '"', "'", '<', '>', '\\', '/', '//', '@', '.', ' ',
  'é', 'e\u0301', 'ß', 'İ', 'ﬀ', 'Ⓐ', '𝔞', '١', 'javascript:', 'http://', '{{', '{%', '${', '__proto__',
];

const unit = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...TRICKY) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
);

/** Up to ~20k characters: far past every field limit and the 16 kB body limit. */
const longText = fc
  .tuple(fc.string({ unit, minLength: 1, maxLength: 4 }), fc.integer({ min: 250, max: 20_000 }))
  .map(([piece, length]) => piece.repeat(Math.ceil(length / piece.length)).slice(0, length));

const text = fc.oneof(
  { weight: 8, arbitrary: fc.string({ unit, maxLength: 40 }) },
  { weight: 2, arbitrary: fc.constantFrom('', ' ', 'a@b.co', 'https://example.com', PASSWORD, '0', 'false', 'on') },
  { weight: 1, arbitrary: longText },
);

/** One field's value: text, or the same field repeated. */
const fieldValue = fc.oneof(
  { weight: 6, arbitrary: text },
  { weight: 1, arbitrary: fc.array(text, { minLength: 1, maxLength: 3 }) },
);
type FieldValue = string | string[];

type Route = '/signup' | '/login' | '/logout';

const FORM_FIELDS = ['name', 'email', 'password', 'confirm', 'website', 'remember', 'next'];
// prettier-ignore
const ODD_KEYS = [
  '', ' ', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'email[]', 'name[0]', 'a.b', 'Email',
];
const fieldName = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...FORM_FIELDS) },
  { weight: 1, arbitrary: fc.constantFrom(...ODD_KEYS) },
  { weight: 1, arbitrary: fc.string({ unit, maxLength: 12 }) },
);

/** Any record of text fields (the form's own names among them). */
const anyFields = fc.dictionary(fieldName, fieldValue, { maxKeys: 8 });

/** What a run does to one field of a well-formed form: keep it, drop it, or replace it. */
type Edit = { kind: 'keep' } | { kind: 'drop' } | { kind: 'set'; value: FieldValue };
const edit: fc.Arbitrary<Edit> = fc.oneof(
  { weight: 8, arbitrary: fc.constant<Edit>({ kind: 'keep' }) },
  { weight: 1, arbitrary: fc.constant<Edit>({ kind: 'drop' }) },
  { weight: 2, arbitrary: fieldValue.map((value): Edit => ({ kind: 'set', value })) },
);
/** Extra fields beside a form's own, usually none. */
const extras = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Record<string, FieldValue>>({}) },
  { weight: 1, arbitrary: anyFields },
);

const applyEdits = (
  valid: Record<string, string>,
  edits: Record<string, Edit>,
  extra: Record<string, FieldValue>,
): Record<string, FieldValue> => {
  const fields: Record<string, FieldValue> = { ...extra };
  for (const [name, value] of Object.entries(valid)) {
    const change = edits[name] ?? { kind: 'keep' };
    if (change.kind === 'keep') fields[name] = value;
    if (change.kind === 'set') fields[name] = change.value;
  }
  return fields;
};

/** Stands for a fresh, unused email; replaced when the run posts, so counterexamples stay readable. */
const FRESH_EMAIL = '<fresh unique email>';

/** A signup form near a valid one (each field kept, dropped or replaced), or any fields at all. */
const signupBody = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .record({
        edits: fc.record({ name: edit, email: edit, password: edit, confirm: edit, website: edit }),
        extra: extras,
      })
      .map(({ edits, extra }) =>
        applyEdits(
          { name: 'Ada Lovelace', email: FRESH_EMAIL, password: PASSWORD, confirm: PASSWORD, website: '' },
          edits,
          extra,
        ),
      ),
  },
  { weight: 1, arbitrary: anyFields },
);

const withFreshEmail = (fields: Record<string, FieldValue>): Record<string, FieldValue> =>
  fields['email'] === FRESH_EMAIL ? { ...fields, email: uniqueEmail('prop') } : fields;

/** A login form near the right one for the test account, or any fields at all. */
const loginBody = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .record({
        edits: fc.record({ email: edit, password: edit, remember: edit, next: edit }),
        extra: extras,
      })
      .map(({ edits, extra }) =>
        applyEdits({ email: account.email, password: account.password, remember: 'on', next: '/' }, edits, extra),
      ),
  },
  { weight: 1, arbitrary: anyFields },
);

const bytesOf = (piece: string) => Buffer.from(piece, 'utf8');

/** Pieces of a field value as a browser would escape it (controls and slashes included). */
const cleanPiece = fc
  .constantFrom(
    'a',
    'Ada',
    '+',
    '%20',
    '%25',
    '%2B',
    '%3D',
    '%26',
    '%C3%A9',
    '%F0%9F%94%91',
    'x%40example.com',
    '%00',
    '%0A',
    '%7F',
    '%C2%85',
    '%2F%2F',
    '=',
    '//',
    'https:',
  )
  .map(bytesOf);
/** Pieces no browser would send: broken escapes, escapes of bytes that are not UTF-8, raw bytes. */
const brokenPiece = fc.oneof(
  fc.constantFrom('%', '%2', '%zz', '%C3', '%FF', '%C0%AF', '%ED%A0%80', '%F4%90%80%80').map(bytesOf),
  fc.uint8Array({ minLength: 1, maxLength: 4 }).map((bytes) => Buffer.from(bytes)),
);

interface Pair {
  readonly key: string;
  readonly equals: boolean;
  readonly value: Buffer[];
}
const pair = (key: fc.Arbitrary<string>, piece: fc.Arbitrary<Buffer>): fc.Arbitrary<Pair> =>
  fc.record({
    key,
    equals: fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    value: fc.array(piece, { maxLength: 5 }),
  });
const ODD_BYTE_KEYS = ['', '_csrf', 'x', '%00', '__proto__', 'email%5B%5D', 'e%6Dail', 'Email', ...FORM_FIELDS];

/**
 * Bytes shaped like a urlencoded form: each of the route's `fields` usually
 * present once, sometimes a stray field, the values built from `piece`.
 */
const formishBytes = (fields: readonly string[], piece: fc.Arbitrary<Buffer>) =>
  fc
    .tuple(
      fc.tuple(
        ...fields.map((field) =>
          fc.tuple(
            fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
            pair(fc.constant(field), piece),
          ),
        ),
      ),
      fc.oneof(
        { weight: 3, arbitrary: fc.constant<Pair[]>([]) },
        {
          weight: 1,
          arbitrary: fc.array(pair(fc.constantFrom(...ODD_BYTE_KEYS), piece), { minLength: 1, maxLength: 2 }),
        },
      ),
    )
    .map(([own, stray]) => [...own.filter(([present]) => present).map(([, p]) => p), ...stray])
    .map((pairs) =>
      Buffer.concat(
        pairs.flatMap(({ key, equals, value }, index) => [
          bytesOf(index === 0 ? key : `&${key}`),
          bytesOf(equals ? '=' : ''),
          ...value,
        ]),
      ),
    );

const ROUTE_FIELDS: Record<Route, readonly string[]> = {
  '/signup': ['name', 'email', 'password', 'confirm', 'website'],
  '/login': ['email', 'password', 'remember', 'next'],
  '/logout': [],
};

/** Any bytes: noise, form-shaped bytes for the route (well or badly escaped), or a body past the 16 kB limit. */
const rawBytes = (route: Route) =>
  fc.oneof(
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes)) },
    { weight: 4, arbitrary: formishBytes(ROUTE_FIELDS[route], cleanPiece) },
    {
      weight: 2,
      arbitrary: formishBytes(
        ROUTE_FIELDS[route],
        fc.oneof({ weight: 3, arbitrary: cleanPiece }, { weight: 1, arbitrary: brokenPiece }),
      ),
    },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ minLength: 15_000, maxLength: 20_000 }).map((bytes) => Buffer.from(bytes)),
    },
  );

// ---- one attempt, checked from outside ------------------------------------------

const userCount = async () => Number((await t.pool.query('SELECT count(*) FROM users')).rows[0].count);

/** Log lines at error level or above among `lines` (a 5xx always logs one). */
const errorLines = (lines: string[]) =>
  lines
    .join('')
    .split('\n')
    .filter((line) => line.trim() !== '' && (JSON.parse(line) as { level: number }).level >= 50);

interface Ready {
  readonly browser: Browser;
  readonly token: string;
}
/** One browser per route, kept between runs while it stays in the state the route needs. */
const ready = new Map<Route, Ready>();

/**
 * A browser that can post to `route` with a valid token in its session:
 * anonymous for /signup and /login, logged in for /logout (where logging out
 * can happen). A run that changes that state drops the browser.
 */
async function readyBrowser(route: Route): Promise<Ready> {
  const kept = ready.get(route);
  if (kept) return kept;
  const browser = route === '/logout' ? (await signedUpBrowser(t.app)).browser : new Browser(t.app);
  const made = { browser, token: await browser.csrfFrom(route === '/logout' ? '/' : route) };
  ready.set(route, made);
  return made;
}

/**
 * The invariants of every attempt: no 5xx (and no error logged); a user is
 * added only by a 303 from /signup, and then exactly one, with the email sent;
 * and the session still works afterwards, logged in or out as the answer says.
 */
async function expectSafeOutcome(
  route: Route,
  response: Response,
  before: { users: number; logLines: number },
  /** The fields posted, when they were posted as fields (not raw bytes). */
  sent: Record<string, FieldValue> | null,
): Promise<void> {
  expect(response.status, response.text.slice(0, 300)).toBeLessThan(500);
  expect(errorLines(t.logs.slice(before.logLines))).toEqual([]);

  const created = (await userCount()) - before.users;
  if (route === '/signup' && response.status === 303) {
    expect(response.headers['location']).toBe('/');
    expect(created).toBe(1);
    if (sent) {
      const email = sent['email'];
      expect(typeof email).toBe('string');
      const stored = await t.pool.query('SELECT 1 FROM users WHERE email = $1', [String(email).trim().toLowerCase()]);
      expect(stored.rowCount).toBe(1);
    }
  } else {
    expect(created).toBe(0);
  }
  if (route === '/logout' && response.status === 303) expect(response.headers['location']).toBe('/login');
  // A login goes only to a path on this site.
  if (route === '/login' && response.status === 303) expect(response.headers['location']).toMatch(/^\/(?![/\\])/);

  const { browser } = await readyBrowser(route);
  const loggedIn = route === '/logout' ? response.status !== 303 : response.status === 303;
  if (loggedIn) {
    expect((await browser.get('/')).status).toBe(200);
  } else {
    expect((await browser.get('/login')).status).toBe(200);
  }
  // The browser is no longer in the state this route's runs start from.
  if (loggedIn !== (route === '/logout')) ready.delete(route);
}

/** Posts `fields` (with the session's token) and checks the outcome; resolves to the status. */
async function postFields(route: Route, fields: Record<string, FieldValue>): Promise<number> {
  const { browser, token } = await readyBrowser(route);
  const before = { users: await userCount(), logLines: t.logs.length };
  const response = await browser.agent
    .post(route)
    .type('form')
    .send({ ...fields, _csrf: token });
  await expectSafeOutcome(route, response, before, fields);
  return response.status;
}

/**
 * superagent would run a Buffer through its form serializer (qs.stringify of
 * its indices, "0=110&1=97..."); this sends the bytes themselves.
 */
const bytesAsTheyAre = <T>(body: T): T => body;

/** Posts raw bytes, then `&_csrf=<token>`, as a urlencoded form and checks the outcome. */
async function postBytes(route: Route, body: Buffer): Promise<Response> {
  const { browser, token } = await readyBrowser(route);
  const before = { users: await userCount(), logLines: t.logs.length };
  const response = await browser.agent
    .post(route)
    .set('Content-Type', 'application/x-www-form-urlencoded')
    .serialize(bytesAsTheyAre)
    .send(Buffer.concat([body, Buffer.from(`&_csrf=${encodeURIComponent(token)}`)]));
  await expectSafeOutcome(route, response, before, null);
  return response;
}

/** The body got past the parser and the token check to the route's own form handling. */
const reachedTheForm = (response: Response) =>
  response.status === 303 ||
  response.status === 422 ||
  response.text.includes('The form you sent had missing, repeated or unexpected fields.');

// ---- the properties -------------------------------------------------------------

describe('any form input', () => {
  it(
    'POST /signup with any text fields never answers 5xx, and adds a user only when it answers 303',
    async () => {
      let signedUp = 0;
      await fc.assert(
        fc.asyncProperty(signupBody, async (fields) => {
          if ((await postFields('/signup', withFreshEmail(fields))) === 303) signedUp++;
        }),
        { numRuns: RUNS.fields, endOnFailure: true },
      );
      // The generator reaches valid signups too, so the "adds a user" half is exercised.
      expect(signedUp).toBeGreaterThan(0);
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'POST /login with any text fields never answers 5xx, adds no user, and leaves a working session',
    async () => {
      let loggedIn = 0;
      await fc.assert(
        fc.asyncProperty(loginBody, async (fields) => {
          if ((await postFields('/login', fields)) === 303) loggedIn++;
        }),
        { numRuns: RUNS.fields, endOnFailure: true },
      );
      expect(loggedIn).toBeGreaterThan(0);
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'POST /logout with any text fields never answers 5xx, and either logs out (303) or leaves the user logged in',
    async () => {
      let loggedOut = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.oneof({ weight: 1, arbitrary: fc.constant({}) }, { weight: 5, arbitrary: anyFields }),
          async (fields) => {
            if ((await postFields('/logout', fields)) === 303) loggedOut++;
          },
        ),
        { numRuns: RUNS.fields, endOnFailure: true },
      );
      expect(loggedOut).toBeGreaterThan(0);
    },
    PROPERTY_TIMEOUT_MS,
  );

  it.each<Route>(['/signup', '/login', '/logout'])(
    'POST %s with any bytes as a urlencoded body never answers 5xx, adds a user only with a 303 from /signup, and leaves a working session',
    async (route) => {
      let reached = 0;
      await fc.assert(
        fc.asyncProperty(rawBytes(route), async (body) => {
          if (reachedTheForm(await postBytes(route, body))) reached++;
        }),
        { numRuns: RUNS.bytes, endOnFailure: true },
      );
      // Not every body stops at the parser: the generator also reaches the form handling.
      expect(reached).toBeGreaterThan(0);
    },
    PROPERTY_TIMEOUT_MS,
  );
});
