import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_EVENT_KINDS } from '../src/audit/auth-events-repo.js';
import { type TestApp, startTestApp } from './support/test-app.js';
import { Browser, PASSWORD, signupFields, uniqueEmail } from './support/browser.js';
import { LOOPBACK, browserWith, sidInCookie, signUpFromLoopback, userByEmail } from './support/users.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

// ---- the audit trail, read over SQL ---------------------------------------------

interface EventRow {
  user_id: string | null;
  event: string;
  ip: string | null;
  user_agent: string | null;
  created_at: Date;
}

/** A User-Agent no other test sends, so a test finds exactly its own events. */
const distinctiveUserAgent = (label: string) => `GatehouseAuditTest/${label} (${randomBytes(6).toString('hex')})`;

/** Every event recorded for requests that carried `userAgent`, oldest first. */
const eventsFrom = async (userAgent: string): Promise<EventRow[]> =>
  (
    await t.pool.query<EventRow>(
      'SELECT user_id::text AS user_id, event, ip, user_agent, created_at FROM auth_events WHERE user_agent = $1 ORDER BY id',
      [userAgent],
    )
  ).rows;

const userIdOf = async (email: string): Promise<string> => {
  const id = (await userByEmail(t, email))?.id;
  if (!id) throw new Error(`no user with email ${email}`);
  return id;
};

/** Signs a user up from a browser of its own (its own User-Agent), so its events stay out of the test's. */
const existingUser = () => signUpFromLoopback(t, { userAgent: distinctiveUserAgent('setup') });

/** The row was written just now: created_at is set by the database, within a minute of this test's clock. */
const expectRecordedNow = (row: EventRow) => {
  expect(row.created_at).toBeInstanceOf(Date);
  expect(Math.abs(row.created_at.getTime() - Date.now())).toBeLessThan(60_000);
};

const expectEvent = (
  row: EventRow | undefined,
  expected: { event: string; userId: string | null; userAgent: string },
) => {
  expect(row).toBeDefined();
  if (!row) return;
  expect(row.event).toBe(expected.event);
  expect(row.user_id).toBe(expected.userId);
  expect(row.ip).toMatch(LOOPBACK);
  expect(row.user_agent).toBe(expected.userAgent);
  expectRecordedNow(row);
};

describe('the audit trail (auth_events)', () => {
  it('records a signup with the new user id, the IP and the User-Agent the browser sent', async () => {
    const ua = distinctiveUserAgent('signup');
    const fields = signupFields();
    const response = await browserWith(t.app, ua).submit('/signup', '/signup', { ...fields });
    expect(response.status).toBe(303);

    const events = await eventsFrom(ua);
    const signups = events.filter((row) => row.event === 'signup');
    expect(signups).toHaveLength(1);
    expectEvent(signups[0], { event: 'signup', userId: await userIdOf(fields.email), userAgent: ua });
    expect(events.filter((row) => row.event === 'login_failed')).toEqual([]);
  });

  it('records nothing for a signup that is refused', async () => {
    const ua = distinctiveUserAgent('bad-signup');
    const response = await browserWith(t.app, ua).submit('/signup', '/signup', {
      ...signupFields({ confirm: 'something else entirely' }),
    });
    expect(response.status).toBe(422);
    expect(await eventsFrom(ua)).toEqual([]);
  });

  it('records a login with the user id', async () => {
    const user = await existingUser();
    const ua = distinctiveUserAgent('login');
    const response = await browserWith(t.app, ua).submit('/login', '/login', { email: user.email, password: PASSWORD });
    expect(response.status).toBe(303);

    const events = await eventsFrom(ua);
    expect(events).toHaveLength(1);
    expectEvent(events[0], { event: 'login', userId: user.id, userAgent: ua });
  });

  it('records a wrong password as login_failed with the user id', async () => {
    const user = await existingUser();
    const ua = distinctiveUserAgent('wrong-password');
    const response = await browserWith(t.app, ua).submit('/login', '/login', {
      email: user.email,
      password: `${PASSWORD}-wrong`,
    });
    expect(response.status).toBe(422);

    const events = await eventsFrom(ua);
    expect(events).toHaveLength(1);
    expectEvent(events[0], { event: 'login_failed', userId: user.id, userAgent: ua });
  });

  it('records a login to an unknown email as login_failed with no user id', async () => {
    const ua = distinctiveUserAgent('unknown-email');
    const response = await browserWith(t.app, ua).submit('/login', '/login', {
      email: uniqueEmail('nobody'),
      password: PASSWORD,
    });
    expect(response.status).toBe(422);

    const events = await eventsFrom(ua);
    expect(events).toHaveLength(1);
    expectEvent(events[0], { event: 'login_failed', userId: null, userAgent: ua });
  });

  it('records the right password for a deactivated account as login_failed with the user id', async () => {
    const user = await existingUser();
    await t.pool.query('UPDATE users SET is_active = false WHERE id = $1', [user.id]);
    const ua = distinctiveUserAgent('inactive');
    const response = await browserWith(t.app, ua).submit('/login', '/login', { email: user.email, password: PASSWORD });
    expect(response.status).toBe(422);

    const events = await eventsFrom(ua);
    expect(events).toHaveLength(1);
    expectEvent(events[0], { event: 'login_failed', userId: user.id, userAgent: ua });
  });

  it.each([
    ['an empty password', ''],
    ['a password over 72 bytes', 'p'.repeat(73)],
  ])(
    'records a login refused for %s (the same "Invalid email/password" answer) as login_failed with the user id',
    async (_label, password) => {
      const user = await existingUser();
      const ua = distinctiveUserAgent('refused-login');
      const response = await browserWith(t.app, ua).submit('/login', '/login', { email: user.email, password });
      expect(response.status).toBe(422);
      expect(response.text).toContain('Invalid email/password combination.');

      const events = await eventsFrom(ua);
      expect(events).toHaveLength(1);
      expectEvent(events[0], { event: 'login_failed', userId: user.id, userAgent: ua });
    },
  );

  it.each([
    ['a NUL', 'some\u0000one@example.com'],
    ['a control character', 'some\u0007one@example.com'],
    ['over 254 characters', `${'x'.repeat(300)}@example.com`],
  ])('records a login refused for an email with %s as login_failed with no user id', async (_label, email) => {
    const ua = distinctiveUserAgent('refused-email');
    const response = await browserWith(t.app, ua).submit('/login', '/login', { email, password: 'some long password' });
    expect(response.status).toBe(422);
    expect(response.text).toContain('Invalid email/password combination.');
    const events = await eventsFrom(ua);
    expect(events).toHaveLength(1);
    expectEvent(events[0], { event: 'login_failed', userId: null, userAgent: ua });
  });

  it('records a logout with the user id', async () => {
    const user = await existingUser();
    const ua = distinctiveUserAgent('logout');
    const browser = browserWith(t.app, ua);
    expect((await browser.submit('/login', '/login', { email: user.email, password: PASSWORD })).status).toBe(303);
    const response = await browser.submit('/', '/logout', {});
    expect(response.status).toBe(303);
    expect(response.headers['location']).toBe('/login');

    const events = await eventsFrom(ua);
    expect(events.map((row) => row.event)).toEqual(['login', 'logout']);
    expectEvent(events[1], { event: 'logout', userId: user.id, userAgent: ua });
  });

  it('records no logout when nobody was logged in', async () => {
    const ua = distinctiveUserAgent('anonymous-logout');
    const response = await browserWith(t.app, ua).submit('/logout', '/logout', {});
    expect(response.status).toBe(303);
    expect(await eventsFrom(ua)).toEqual([]);
  });

  it('keeps the client address from X-Forwarded-For when the proxy is trusted', async () => {
    const behindProxy = await t.sibling({ TRUST_PROXY: 'loopback' });
    const ua = distinctiveUserAgent('proxied');
    const browser = browserWith(behindProxy.app, ua);
    browser.agent.set('X-Forwarded-For', '203.0.113.77');
    const fields = signupFields();
    expect((await browser.submit('/signup', '/signup', { ...fields })).status).toBe(303);

    const events = await eventsFrom(ua);
    expect(events.map((row) => [row.event, row.ip])).toEqual([['signup', '203.0.113.77']]);
  });

  describe('over the limits', () => {
    it('records a login over the per-account limit as throttled, and checks no password for it', async () => {
      const strict = await t.sibling({ LOGIN_FAILURES_PER_ACCOUNT: '2' });
      const user = await existingUser();
      const ua = distinctiveUserAgent('throttled-login');
      const browser = browserWith(strict.app, ua);
      const statuses: number[] = [];
      for (let attempt = 0; attempt < 3; attempt++) {
        const response = await browser.submit('/login', '/login', { email: user.email, password: `wrong-${attempt}` });
        statuses.push(response.status);
      }
      expect(statuses).toEqual([422, 422, 429]);

      const events = await eventsFrom(ua);
      expect(events.map((row) => row.event)).toEqual(['login_failed', 'login_failed', 'throttled']);
      const throttled = events[2];
      expect(throttled?.ip).toMatch(LOOPBACK);
      expect(throttled?.user_agent).toBe(ua);
      if (throttled) expectRecordedNow(throttled);
    });

    it('names the targeted account (its user id) in the throttled event of a login', async () => {
      const strict = await t.sibling({ LOGIN_FAILURES_PER_ACCOUNT: '2' });
      const user = await existingUser();
      const ua = distinctiveUserAgent('throttled-login-user');
      const browser = browserWith(strict.app, ua);
      for (let attempt = 0; attempt < 3; attempt++) {
        await browser.submit('/login', '/login', { email: user.email, password: `wrong-${attempt}` });
      }
      const throttled = (await eventsFrom(ua)).filter((row) => row.event === 'throttled');
      expect(throttled).toHaveLength(1);
      expectEvent(throttled[0], { event: 'throttled', userId: user.id, userAgent: ua });
    });

    it('records a throttled login to an unknown email with no user id', async () => {
      const strict = await t.sibling({ LOGIN_FAILURES_PER_ACCOUNT: '2' });
      const ua = distinctiveUserAgent('throttled-unknown');
      const browser = browserWith(strict.app, ua);
      const email = uniqueEmail('nobody');
      const statuses: number[] = [];
      for (let attempt = 0; attempt < 3; attempt++) {
        statuses.push((await browser.submit('/login', '/login', { email, password: PASSWORD })).status);
      }
      expect(statuses).toEqual([422, 422, 429]);
      const events = await eventsFrom(ua);
      expect(events.map((row) => row.event)).toEqual(['login_failed', 'login_failed', 'throttled']);
      expectEvent(events[2], { event: 'throttled', userId: null, userAgent: ua });
    });

    it('records a signup over the per-address limit as throttled, with no user created', async () => {
      // The per-address count is shared by every instance on this database, so it may already be spent.
      const strict = await t.sibling({ SIGNUPS_PER_IP: '1' });
      const ua = distinctiveUserAgent('throttled-signup');
      const browser = browserWith(strict.app, ua);
      let refusedEmail: string | undefined;
      for (let attempt = 0; attempt < 2 && refusedEmail === undefined; attempt++) {
        const fields = signupFields();
        const response = await browser.submit('/signup', '/signup', { ...fields });
        if (response.status === 429) refusedEmail = fields.email;
        else expect(response.status).toBe(303);
        // A successful signup logs the browser in; start the next attempt anonymous.
        if (response.status === 303) await browser.submit('/', '/logout', {});
      }
      expect(refusedEmail).toBeDefined();
      expect(await userByEmail(t, refusedEmail ?? '')).toBeUndefined();

      const throttled = (await eventsFrom(ua)).filter((row) => row.event === 'throttled');
      expect(throttled).toHaveLength(1);
      expectEvent(throttled[0], { event: 'throttled', userId: null, userAgent: ua });
    });
  });
});

// ---- the request log ------------------------------------------------------------

interface LogLine {
  level: number;
  msg?: string;
  req?: { id?: unknown; method?: unknown; path?: unknown };
  res?: { statusCode?: unknown };
}

const logLines = (app: TestApp): LogLine[] =>
  app.logs
    .join('')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as LogLine);

const requestLines = (app: TestApp) => logLines(app).filter((line) => line.req !== undefined);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits until the app has logged `count` request lines (a line is written when the response finishes). */
async function settledRequestLines(app: TestApp, count: number): Promise<LogLine[]> {
  for (let waited = 0; waited < 2000 && requestLines(app).length < count; waited += 10) await sleep(10);
  await sleep(50); // and a moment more, so a second line for the same request would show up
  return requestLines(app);
}

describe('the kinds of audit event', () => {
  it('are exactly the rows of auth_event_kinds, and the database refuses any other', async () => {
    const { rows } = await t.pool.query<{ kind: string }>('SELECT kind FROM auth_event_kinds ORDER BY kind');
    expect(rows.map((row) => row.kind)).toEqual([...AUTH_EVENT_KINDS].sort());
    await expect(t.pool.query("INSERT INTO auth_events (event) VALUES ('made_up')")).rejects.toThrow(
      /auth_events_event_fkey/,
    );
  });
});

describe('the request log', () => {
  it('writes one line per request, carrying a request id equal to the X-Request-Id response header', async () => {
    const logged = await t.sibling(); // a log of its own
    const browser = new Browser(logged.app);
    const user = await existingUser();
    const responses = [
      await browser.get('/login'),
      await browser.get('/signup'),
      await browser.get('/healthz'),
      await browser.get('/no-such-page'),
      await browser.get('/'),
      await browser.agent.post('/login').type('form').send({ email: user.email, password: PASSWORD }), // no token: 403
    ];
    const token = await browser.csrfFrom('/login'); // a request of its own, checked by count only
    responses.push(
      await browser.agent.post('/login').type('form').send({ _csrf: token, email: user.email, password: PASSWORD }),
    );
    const expectedRequests = responses.length + 1;

    const ids = responses.map((response) => response.headers['x-request-id']);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(ids).size).toBe(ids.length);

    const lines = await settledRequestLines(logged, expectedRequests);
    expect(lines).toHaveLength(expectedRequests);
    const loggedIds = lines.map((line) => line.req?.id);
    expect(new Set(loggedIds).size).toBe(expectedRequests);
    for (const [index, response] of responses.entries()) {
      const line = lines.find((candidate) => candidate.req?.id === ids[index]);
      expect(line, `log line for request ${index}`).toBeDefined();
      expect(line?.res?.statusCode).toBe(response.status);
    }
  });

  it('never writes the password, the _csrf token or the session cookie through signup, login, a failed login and logout', async () => {
    const logged = await t.sibling();
    const browser = new Browser(logged.app);
    const password = `Log-secret-${randomBytes(8).toString('hex')}`;
    const wrongPassword = `Log-wrong-${randomBytes(8).toString('hex')}`;
    const email = uniqueEmail('logs');
    const tokens: string[] = [];
    const cookies: string[] = [];
    const post = async (page: string, action: string, fields: Record<string, string>, expected: number) => {
      const _csrf = await browser.csrfFrom(page);
      tokens.push(_csrf);
      const cookie = browser.sessionCookie();
      if (cookie) cookies.push(cookie);
      const response = await browser.agent
        .post(action)
        .type('form')
        .send({ _csrf, ...fields });
      expect(response.status).toBe(expected);
      const after = browser.sessionCookie();
      if (after) cookies.push(after);
    };

    await post('/signup', '/signup', { ...signupFields({ email, password, confirm: password }) }, 303);
    await browser.get('/'); // the dashboard, with the signed-up session cookie
    await post('/', '/logout', {}, 303);
    await post('/login', '/login', { email, password: wrongPassword }, 422);
    await post('/login', '/login', { email, password }, 303);
    await browser.get('/');
    await post('/', '/logout', {}, 303);

    const text = logged.logs.join('');
    expect(requestLines(logged).length).toBeGreaterThanOrEqual(12); // the log is not simply empty

    expect(text).not.toContain(password);
    expect(text).not.toContain(wrongPassword);
    expect(new Set(tokens).size).toBeGreaterThan(1); // tokens changed with the sessions, and all are checked
    for (const token of tokens) expect(text).not.toContain(token);
    expect(new Set(cookies).size).toBeGreaterThan(1);
    for (const cookie of cookies) {
      const raw = cookie.slice(cookie.indexOf('=') + 1);
      expect(text).not.toContain(raw);
      expect(text).not.toContain(decodeURIComponent(raw));
      expect(text).not.toContain(sidInCookie(cookie));
    }
  });
});
