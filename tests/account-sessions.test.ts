import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from './support/test-app.js';
import { Browser, PASSWORD, signedUpBrowser, uniqueEmail } from './support/browser.js';
import { expectCleanRefusal, flashesOn, isLoggedIn, unescapeHtml } from './support/pages.js';
import {
  CHROME_WINDOWS,
  FIREFOX_LINUX,
  LOOPBACK,
  SAFARI_IPHONE,
  eventRowsOf,
  loggedInBrowser,
  newEventRowsOf,
  sessionCount,
  sessionIdOf,
  sessionRowsOf,
  sidHash,
  sidHashOf,
  sidOf,
  signUpFromLoopback,
  snapshot,
} from './support/users.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

// ---- reading the sessions page ---------------------------------------------------------

interface ListedSession {
  browser: string;
  current: boolean;
  ip: string;
  /** The public id in the "Sign out" form; the current session has a "Log out" button instead. */
  id: string | undefined;
  started: Date;
  lastUsed: Date;
  html: string;
}

function listedSessions(html: string): ListedSession[] {
  const items = html.split('<li class="session').slice(1);
  return items.map((item) => {
    const chunk = item.slice(0, item.indexOf('</li>'));
    const times = [...chunk.matchAll(/<time datetime="([^"]+)"/g)].map((match) => new Date(match[1] ?? ''));
    return {
      browser: unescapeHtml(/<strong>([^<]*)<\/strong>/.exec(chunk)?.[1] ?? ''),
      current: chunk.startsWith(' session-current'),
      ip: unescapeHtml(/<span class="muted">from ([^<]*)<\/span>/.exec(chunk)?.[1] ?? ''),
      id: /<input type="hidden" name="id" value="([^"]*)">/.exec(chunk)?.[1],
      started: times[0] ?? new Date(Number.NaN),
      lastUsed: times[1] ?? new Date(Number.NaN),
      html: chunk,
    };
  });
}

async function sessionsPage(browser: Browser) {
  const page = await browser.get('/account/sessions');
  expect(page.status).toBe(200);
  return { page, sessions: listedSessions(page.text) };
}

/** A user who signed up in Firefox, then logged in from Chrome and from Safari on an iPhone. */
async function userWithThreeBrowsers() {
  // Signs up in Firefox, so its User-Agent is the one the signup session records.
  const { browser: firefox, ...owner } = await signUpFromLoopback(t, {
    userAgent: FIREFOX_LINUX,
    name: 'Session Owner',
    email: uniqueEmail('sessions'),
  });
  const chrome = await loggedInBrowser(t.app, owner.email, PASSWORD, CHROME_WINDOWS);
  const safari = await loggedInBrowser(t.app, owner.email, PASSWORD, SAFARI_IPHONE);
  return { email: owner.email, id: owner.id, firefox, chrome, safari };
}

const end = (browser: Browser, id: string) => browser.submit('/account/sessions', '/account/sessions/end', { id });
const endOthers = (browser: Browser) => browser.submit('/account/sessions', '/account/sessions/end-others', {});

// ---- the sessions table ------------------------------------------------------------------

describe('the sessions table', () => {
  it('sets user_id on the row of a session that signed up, and of one that logged in', async () => {
    const user = await signUpFromLoopback(t);
    const second = await loggedInBrowser(t.app, user.email);
    for (const browser of [user.browser, second]) {
      const { rows } = await t.pool.query<{ user_id: string | null }>(
        'SELECT user_id::text AS user_id FROM sessions WHERE sid = $1',
        [sidHashOf(browser)],
      );
      expect(rows[0]?.user_id).toBe(user.id);
    }
    expect((await sessionRowsOf(t, user.id)).map((row) => row.sid).sort()).toEqual(
      [sidHashOf(user.browser), sidHashOf(second)].sort(),
    );
  });

  it('has no row at all for a visitor who only viewed a form', async () => {
    const before = await sessionCount(t);
    const visitor = new Browser(t.app);
    await visitor.get('/login');
    expect(visitor.sessionCookie()).toBeUndefined();
    const after = await sessionCount(t);
    expect(after).toBe(before);
  });

  it('clears user_id when the session logs out (the row is gone)', async () => {
    const user = await signUpFromLoopback(t);
    const sid = sidHashOf(user.browser);
    expect((await user.browser.submit('/', '/logout', {})).status).toBe(303);
    expect((await t.pool.query('SELECT 1 FROM sessions WHERE sid = $1', [sid])).rowCount).toBe(0);
    expect(await sessionRowsOf(t, user.id)).toEqual([]);
  });

  it('has an index on user_id', async () => {
    const { rows } = await t.pool.query<{ indexdef: string }>(
      "SELECT indexdef FROM pg_indexes WHERE tablename = 'sessions'",
    );
    expect(rows.some((row) => /\(user_id\)/.test(row.indexdef))).toBe(true);
  });

  it('records the IP and the User-Agent of the login on the row', async () => {
    const user = await signUpFromLoopback(t);
    const browser = await loggedInBrowser(t.app, user.email, PASSWORD, CHROME_WINDOWS);
    const row = (await sessionRowsOf(t, user.id)).find((r) => r.sid === sidHashOf(browser));
    expect(row?.ip).toMatch(LOOPBACK);
    expect(row?.user_agent).toBe(CHROME_WINDOWS);
  });

  it('keeps at most 512 characters of a very long User-Agent, and the page still works', async () => {
    const user = await signUpFromLoopback(t);
    const long = `Mozilla/5.0 ${'x'.repeat(3000)}`;
    const browser = await loggedInBrowser(t.app, user.email, PASSWORD, long);
    const row = (await sessionRowsOf(t, user.id)).find((r) => r.sid === sidHashOf(browser));
    expect(row?.user_agent?.length).toBeLessThanOrEqual(512);
    expect((await browser.get('/account/sessions')).status).toBe(200);
  });
});

// ---- listing ------------------------------------------------------------------------------

describe('the "your sessions" page', () => {
  it('lists every open session of the user with a short browser name and the IP, and marks this browser exactly once', async () => {
    const user = await userWithThreeBrowsers();
    const { page, sessions } = await sessionsPage(user.firefox);

    expect(sessions.map((s) => s.browser).sort()).toEqual(
      ['Chrome 131 on Windows', 'Firefox 133 on Linux', 'Safari 17 on iOS'].sort(),
    );
    expect(page.text.match(/This browser/g)).toHaveLength(1);
    expect(sessions.filter((s) => s.current).map((s) => s.browser)).toEqual(['Firefox 133 on Linux']);
    for (const s of sessions) expect(s.ip).toMatch(LOOPBACK);

    // From Chrome, it is Chrome that is marked.
    const fromChrome = await sessionsPage(user.chrome);
    expect(fromChrome.sessions.filter((s) => s.current).map((s) => s.browser)).toEqual(['Chrome 131 on Windows']);
    expect(fromChrome.page.text.match(/This browser/g)).toHaveLength(1);

    // The raw user agents and the secret sids never reach the page.
    for (const browser of [user.firefox, user.chrome, user.safari]) expect(page.text).not.toContain(sidOf(browser));
    expect(page.text).not.toContain('Gecko/20100101');
  });

  it('lists as many sessions as the sessions table holds for the user, with the public ids of the others', async () => {
    const user = await userWithThreeBrowsers();
    const { sessions } = await sessionsPage(user.firefox);
    const rows = await sessionRowsOf(t, user.id);
    expect(sessions).toHaveLength(rows.length);
    const others = rows.filter((row) => row.sid !== sidHashOf(user.firefox)).map((row) => row.id);
    expect(
      sessions
        .filter((s) => !s.current)
        .map((s) => s.id)
        .sort(),
    ).toEqual(others.sort());
    expect(sessions.find((s) => s.current)?.id).toBeUndefined();
  });

  it('shows when each session started and was last used', async () => {
    const user = await userWithThreeBrowsers();
    const { sessions } = await sessionsPage(user.firefox);
    for (const s of sessions) {
      expect(Math.abs(s.started.getTime() - Date.now())).toBeLessThan(5 * 60_000);
      expect(s.lastUsed.getTime()).toBeGreaterThanOrEqual(s.started.getTime() - 1000);
    }
  });

  it('keeps the time a session started when a password change gives it a new id', async () => {
    const { browser, id } = await signUpFromLoopback(t);
    // As if the login were an hour ago: the row and the session's own login time.
    const sid = sidOf(browser);
    await t.pool.query(
      `UPDATE sessions SET created_at = now() - interval '1 hour',
              sess = jsonb_set(sess::jsonb, '{authAt}', to_jsonb((extract(epoch FROM now() - interval '1 hour') * 1000)::bigint))::json
        WHERE sid = $1`,
      [sidHash(sid)],
    );
    const changed = await browser.submit('/account/password', '/account/password', {
      current: PASSWORD,
      password: 'a different passphrase',
      confirm: 'a different passphrase',
    });
    expect(changed.status).toBe(303);
    expect(sidOf(browser)).not.toBe(sid);
    const { rows } = await t.pool.query<{ minutes: number }>(
      'SELECT (extract(epoch FROM now() - created_at) / 60)::float8 AS minutes FROM sessions WHERE user_id = $1',
      [id],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]?.minutes).toBeGreaterThan(59);
    expect(rows[0]?.minutes).toBeLessThan(61);
  });

  it('moves the last-used time of a session when it is used, and lists the most recently used first', async () => {
    const user = await userWithThreeBrowsers();
    await t.pool.query(
      `UPDATE sessions SET last_seen_at = now() - interval '2 hours', created_at = now() - interval '3 hours',
              expire = localtimestamp + interval '10 minutes'
        WHERE user_id = $1`,
      [user.id],
    );
    expect(await isLoggedIn(user.chrome)).toBe(true);
    const { sessions } = await sessionsPage(user.firefox);
    const chrome = sessions.find((s) => s.browser.startsWith('Chrome'));
    const safari = sessions.find((s) => s.browser.startsWith('Safari'));
    expect(Math.abs((chrome?.lastUsed.getTime() ?? 0) - Date.now())).toBeLessThan(60_000);
    expect(Date.now() - (safari?.lastUsed.getTime() ?? 0)).toBeGreaterThan(60 * 60_000);
    expect(Date.now() - (chrome?.started.getTime() ?? 0)).toBeGreaterThan(2 * 60 * 60_000);
    const order = sessions.map((s) => s.browser);
    expect(order.indexOf(chrome?.browser ?? '')).toBeLessThan(order.indexOf(safari?.browser ?? ''));
  });

  it("ignores a user id put in the page's URL", async () => {
    const user = await signUpFromLoopback(t);
    const other = await signUpFromLoopback(t);
    const otherAgent = `OtherInUrl/${randomBytes(4).toString('hex')}`;
    await loggedInBrowser(t.app, other.email, PASSWORD, otherAgent);
    for (const query of [`?user_id=${other.id}`, `?id=${other.id}`, `?userId=${other.id}&user=${other.id}`]) {
      const page = await user.browser.get(`/account/sessions${query}`);
      expect(page.status).toBeLessThan(500);
      expect(page.text).not.toContain(otherAgent);
      expect(page.text).not.toContain(other.email);
    }
  });

  it('offers "Sign out everywhere else" only when there are other sessions', async () => {
    const user = await signUpFromLoopback(t);
    const alone = await sessionsPage(user.browser);
    expect(alone.sessions).toHaveLength(1);
    expect(alone.page.text).not.toContain('action="/account/sessions/end-others"');
    expect(alone.page.text).toContain('No other browser is signed in.');

    await loggedInBrowser(t.app, user.email);
    const two = await sessionsPage(user.browser);
    expect(two.page.text).toContain('action="/account/sessions/end-others"');
    expect(two.page.text).toContain('Sign out everywhere else');
  });

  it("never lists another user's sessions", async () => {
    const user = await userWithThreeBrowsers();
    const otherAgent = `OtherUsersBrowser/${randomBytes(4).toString('hex')}`;
    const other = await signUpFromLoopback(t);
    const otherBrowser = await loggedInBrowser(t.app, other.email, PASSWORD, otherAgent);
    const otherIds = (await sessionRowsOf(t, other.id)).map((row) => row.id);

    const { page, sessions } = await sessionsPage(user.firefox);
    expect(sessions).toHaveLength(3);
    expect(page.text).not.toContain(otherAgent);
    for (const id of otherIds) expect(sessions.map((s) => s.id)).not.toContain(id);
    expect(page.text).not.toContain(other.email);

    // And the other way round.
    const theirs = await sessionsPage(otherBrowser);
    expect(theirs.sessions).toHaveLength(2);
    expect(theirs.page.text).not.toContain('Firefox 133');
    expect(theirs.page.text).not.toContain('Chrome 131');
  });

  it('finds sessions by the user_id column, not by reading the JSON, and leaves out expired ones', async () => {
    const user = await signUpFromLoopback(t);
    const insert = (sid: string, sess: object, userId: string | null, agent: string, expireSql: string) =>
      t.pool.query(
        `INSERT INTO sessions (sid, sess, expire, user_id, ip, user_agent)
         VALUES ($1, $2, ${expireSql}, $3, '203.0.113.7', $4)`,
        [sid, JSON.stringify(sess), userId, agent],
      );
    const cookie = { originalMaxAge: null, httpOnly: true, path: '/' };
    await insert(
      `by-column-${randomBytes(6).toString('hex')}`,
      { cookie },
      user.id,
      'Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0',
      "localtimestamp + interval '1 hour'",
    );
    await insert(
      `json-only-${randomBytes(6).toString('hex')}`,
      { cookie, userId: Number(user.id), authAt: Date.now() },
      null,
      'JsonOnlyAgent/1.0',
      "localtimestamp + interval '1 hour'",
    );
    await insert(
      `expired-${randomBytes(6).toString('hex')}`,
      { cookie, userId: Number(user.id), authAt: Date.now() },
      user.id,
      'ExpiredAgent/1.0',
      "localtimestamp - interval '1 minute'",
    );

    const { page, sessions } = await sessionsPage(user.browser);
    expect(sessions.map((s) => s.browser)).toContain('Firefox 120 on Linux');
    expect(sessions.find((s) => s.browser === 'Firefox 120 on Linux')?.ip).toBe('203.0.113.7');
    expect(page.text).not.toContain('JsonOnlyAgent');
    expect(page.text).not.toContain('ExpiredAgent');
    expect(sessions).toHaveLength(2);
  });

  it('shows a hostile User-Agent HTML-escaped', async () => {
    const user = await signUpFromLoopback(t);
    const hostile = '<script>alert(1)</script><img src=x onerror=alert(2)>';
    await loggedInBrowser(t.app, user.email, PASSWORD, hostile);
    const { page, sessions } = await sessionsPage(user.browser);
    expect(page.text).not.toContain('<script>alert(1)');
    expect(page.text).not.toContain('<img src=x');
    const shown = sessions.find((s) => !s.current)?.browser ?? '';
    expect(shown).not.toBe('');
    expect(hostile.startsWith(shown.replace(/…$/, ''))).toBe(true);
  });

  it('names a session without a User-Agent "Unknown browser"', async () => {
    const user = await signUpFromLoopback(t);
    await t.pool.query(
      `INSERT INTO sessions (sid, sess, expire, user_id, ip, user_agent)
       VALUES ($1, '{"cookie":{}}', localtimestamp + interval '1 hour', $2, NULL, NULL)`,
      [`no-agent-${randomBytes(6).toString('hex')}`, user.id],
    );
    const { sessions } = await sessionsPage(user.browser);
    const unknown = sessions.find((s) => !s.current);
    expect(unknown?.browser).toBe('Unknown browser');
    expect(unknown?.ip).toBe('an unknown address');
  });
});

// ---- ending sessions ------------------------------------------------------------------------

describe('ending one session', () => {
  it('ends exactly that one: that browser is logged out on its next request, the others stay', async () => {
    const user = await userWithThreeBrowsers();
    const { sessions } = await sessionsPage(user.firefox);
    const chrome = sessions.find((s) => s.browser.startsWith('Chrome'));
    expect(chrome?.id).toBeDefined();
    const before = (await eventRowsOf(t, user.id)).length;

    const response = await end(user.firefox, chrome?.id ?? '');
    expect(response.status).toBe(303);
    expect(response.headers['location']).toBe('/account/sessions');

    const after = await sessionsPage(user.firefox);
    expect(flashesOn(after.page.text)).toContain('That session has been signed out.');
    expect(after.sessions.map((s) => s.browser).sort()).toEqual(['Firefox 133 on Linux', 'Safari 17 on iOS']);
    expect(await isLoggedIn(user.chrome)).toBe(false);
    expect(await isLoggedIn(user.safari)).toBe(true);
    expect(await isLoggedIn(user.firefox)).toBe(true);

    const events = await newEventRowsOf(t, user.id, before);
    expect(events.map((row) => row.event)).toEqual(['session_ended']);
    expect(events[0]?.detail).toContain(chrome?.id ?? 'no id');
    expect(events[0]?.user_agent).toBe(FIREFOX_LINUX);
  });

  it('says so when the session had already ended', async () => {
    const user = await signUpFromLoopback(t);
    const second = await loggedInBrowser(t.app, user.email);
    const id = await sessionIdOf(t, second);
    expect((await end(user.browser, id)).status).toBe(303);
    const again = await end(user.browser, id);
    expect(again.status).toBe(303);
    const page = await user.browser.get('/account/sessions');
    expect(flashesOn(page.text)).toContain('That session had already ended.');
  });

  it('logs this browser out when the session ended is this one', async () => {
    const user = await signUpFromLoopback(t);
    const second = await loggedInBrowser(t.app, user.email);
    const own = await sessionIdOf(t, user.browser);
    const sid = sidHashOf(user.browser);

    const response = await end(user.browser, own);
    expect(response.status).toBe(303);
    expect(response.headers['location']).toBe('/login');
    const login = await user.browser.get('/login');
    expect(login.status).toBe(200);
    expect(flashesOn(login.text)).toContain('You have been logged out.');
    expect((await t.pool.query('SELECT 1 FROM sessions WHERE sid = $1', [sid])).rowCount).toBe(0);
    expect(await isLoggedIn(user.browser)).toBe(false);
    expect(await isLoggedIn(second)).toBe(true);
  });

  it("does nothing to another user's session whose id is posted, and shows nothing of it", async () => {
    const user = await signUpFromLoopback(t);
    const victim = await signUpFromLoopback(t);
    const victimAgent = `VictimBrowser/${randomBytes(4).toString('hex')}`;
    const victimSecond = await loggedInBrowser(t.app, victim.email, PASSWORD, victimAgent);
    const victimBefore = await snapshot(t, victim.id);
    const userBefore = await snapshot(t, user.id);
    const victimEventsBefore = (await eventRowsOf(t, victim.id)).length;

    for (const id of (await sessionRowsOf(t, victim.id)).map((row) => row.id)) {
      const response = await end(user.browser, id);
      expect(response.status).toBeLessThan(500);
      expect(response.status).not.toBe(200);
      expect(response.text).not.toContain(victimAgent);
      expect(response.text).not.toContain(victim.email);
      const page = await user.browser.get('/account/sessions');
      expect(page.text).not.toContain(victimAgent);
      expect(flashesOn(page.text)).not.toContain('That session has been signed out.');
    }

    expect(await snapshot(t, victim.id)).toEqual(victimBefore);
    expect(await isLoggedIn(victim.browser)).toBe(true);
    expect(await isLoggedIn(victimSecond)).toBe(true);
    expect(await snapshot(t, user.id)).toEqual(userBefore);
    expect(await isLoggedIn(user.browser)).toBe(true);
    expect(await newEventRowsOf(t, victim.id, victimEventsBefore)).toEqual([]);
  });

  it("does not end another user's sessions with end-others either", async () => {
    const user = await signUpFromLoopback(t);
    const victim = await signUpFromLoopback(t);
    const victimBefore = await snapshot(t, victim.id);
    expect((await endOthers(user.browser)).status).toBe(303);
    expect(await snapshot(t, victim.id)).toEqual(victimBefore);
    expect(await isLoggedIn(victim.browser)).toBe(true);
  });

  const malformed: Array<[string, Record<string, string | string[]>]> = [
    ['a word (abc)', { id: 'abc' }],
    ['a negative number', { id: '-1' }],
    ['zero', { id: '0' }],
    ['a leading zero', { id: '01' }],
    ['a decimal', { id: '1.5' }],
    ['an exponent', { id: '1e3' }],
    ['hex', { id: '0x10' }],
    ['spaces around it', { id: ' 1 ' }],
    ['a number too big for bigint', { id: '9223372036854775808' }],
    ['a huge number', { id: '9'.repeat(40) }],
    ['an empty value', { id: '' }],
    ['a NUL', { id: '1\u0000' }],
    ['a repeated field', { id: ['1', '2'] }],
    ['no id field at all', {}],
    ['an unknown extra field', { id: '1', user_id: '1' }],
    ['SQL', { id: '1 OR 1=1' }],
  ];

  it.each(malformed)('answers an id that is %s with 400, never a 5xx, and ends nothing', async (_label, fields) => {
    const user = await signUpFromLoopback(t);
    const second = await loggedInBrowser(t.app, user.email);
    const victim = await signUpFromLoopback(t);
    const before = await snapshot(t, user.id);
    const victimBefore = await snapshot(t, victim.id);

    const response = await user.browser.submit('/account/sessions', '/account/sessions/end', fields);
    expectCleanRefusal(response, 400);
    expect(await snapshot(t, user.id)).toEqual(before);
    expect(await snapshot(t, victim.id)).toEqual(victimBefore);
    expect(await isLoggedIn(second)).toBe(true);
    expect(await isLoggedIn(user.browser)).toBe(true);
  });

  it('answers a well-formed id that is no session at all like one that has ended', async () => {
    const user = await signUpFromLoopback(t);
    const second = await loggedInBrowser(t.app, user.email);
    for (const id of ['999999999', '9007199254740993', '9999999999999999']) {
      const response = await end(user.browser, id);
      expect(response.status).toBeLessThan(500);
    }
    expect(await isLoggedIn(second)).toBe(true);
  });

  it('refuses a post with no CSRF token: 403, the session stays', async () => {
    const user = await signUpFromLoopback(t);
    const second = await loggedInBrowser(t.app, user.email);
    const id = await sessionIdOf(t, second);
    const response = await user.browser.agent.post('/account/sessions/end').type('form').send({ id });
    expectCleanRefusal(response, 403);
    expect(await isLoggedIn(second)).toBe(true);
    const others = await user.browser.agent.post('/account/sessions/end-others').type('form').send({});
    expectCleanRefusal(others, 403);
    expect(await isLoggedIn(second)).toBe(true);
  });
});

describe('"Sign out everywhere else"', () => {
  it('ends every other session of the user and keeps this one', async () => {
    const user = await userWithThreeBrowsers();
    const other = await signUpFromLoopback(t);
    const otherBefore = await snapshot(t, other.id);
    const sid = sidOf(user.firefox);
    const before = (await eventRowsOf(t, user.id)).length;

    const response = await endOthers(user.firefox);
    expect(response.status).toBe(303);
    expect(response.headers['location']).toBe('/account/sessions');
    expect(sidOf(user.firefox)).toBe(sid);

    const { page, sessions } = await sessionsPage(user.firefox);
    expect(flashesOn(page.text)).toContain('Signed out everywhere else (2 sessions).');
    expect(sessions).toHaveLength(1);
    expect(sessions[0]?.current).toBe(true);
    expect(page.text).toContain('No other browser is signed in.');

    expect(await isLoggedIn(user.chrome)).toBe(false);
    expect(await isLoggedIn(user.safari)).toBe(false);
    expect(await isLoggedIn(user.firefox)).toBe(true);
    expect((await sessionRowsOf(t, user.id)).map((row) => row.sid)).toEqual([sidHash(sid)]);

    expect(await snapshot(t, other.id)).toEqual(otherBefore);
    expect(await isLoggedIn(other.browser)).toBe(true);

    const events = await newEventRowsOf(t, user.id, before);
    expect(events.map((row) => row.event)).toEqual(['sessions_ended']);
    expect(events[0]?.detail).toMatch(/\b2\b/);
  });

  it('says so when there were no other sessions', async () => {
    const { browser } = await signedUpBrowser(t.app);
    expect((await endOthers(browser)).status).toBe(303);
    const page = await browser.get('/account/sessions');
    expect(flashesOn(page.text)).toContain('There were no other sessions.');
    expect(await isLoggedIn(browser)).toBe(true);
  });

  it('answers an unexpected field with 400 and ends nothing', async () => {
    const user = await signUpFromLoopback(t);
    const second = await loggedInBrowser(t.app, user.email);
    const response = await user.browser.submit('/account/sessions', '/account/sessions/end-others', { id: '1' });
    expectCleanRefusal(response, 400);
    expect(await isLoggedIn(second)).toBe(true);
  });
});

describe('the sessions page for a user who is deactivated or deleted meanwhile', () => {
  it('logs a deactivated user out on their next visit', async () => {
    const user = await userWithThreeBrowsers();
    await t.pool.query('UPDATE users SET is_active = false WHERE id = $1', [user.id]);
    for (const browser of [user.firefox, user.chrome, user.safari]) {
      const response = await browser.get('/account/sessions');
      expect(response.status).toBe(302);
      expect(response.headers['location']).toBe('/login?next=%2Faccount%2Fsessions');
    }
  });

  it('logs every browser of a deleted user out', async () => {
    const user = await userWithThreeBrowsers();
    const response = await user.chrome.submit('/account/delete', '/account/delete', {
      password: PASSWORD,
      confirm: '1',
    });
    expect(response.status).toBe(303);
    for (const browser of [user.firefox, user.chrome, user.safari]) expect(await isLoggedIn(browser)).toBe(false);
    expect(await sessionRowsOf(t, user.id)).toEqual([]);
  });
});
