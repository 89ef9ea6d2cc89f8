import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from './support/browser.js';
import { PASSWORD } from './support/browser.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { expectCleanRefusal, fieldError, unescapeHtml } from './support/pages.js';
import {
  FIREFOX_LINUX,
  detailsOf,
  loginAgo,
  sidHash,
  sidHashOf,
  sidOf,
  signUp,
  uniqueIp,
  visitor,
} from './support/users.js';
import { ORIGIN, RP_ID, addPasskey, signInOptions, signInWith } from './support/passkeys.js';
import { type TestApp, startTestApp } from './support/test-app.js';
import { awayFromStepEdge, stepAt, totpCode } from './support/totp.js';
import { enrolApp } from './support/two-factor.js';

/**
 * The user's own data (issue 15): their history on /account/activity, everything kept about
 * them as a download on /account/export, and the fresh login the export asks for.
 */

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ TRUST_PROXY: 'loopback' });
});
afterAll(async () => {
  await t.close();
});

const ENTRIES = /<li class="activity-event/g;
const entriesOn = (html: string) => html.match(ENTRIES)?.length ?? 0;

/** A wrong password for `email` from a browser and address of its own. */
async function failedLogin(email: string, ip = uniqueIp(), userAgent = FIREFOX_LINUX) {
  const answer = await visitor(t.app, ip, userAgent).submit('/login', '/login', {
    email,
    password: 'not the password',
  });
  expect(answer.status).toBe(422);
}

const sessionJson = async (browser: Browser) =>
  (
    await t.pool.query<{ sess: Record<string, unknown> }>('SELECT sess FROM sessions WHERE sid = $1', [
      sidHashOf(browser),
    ])
  ).rows[0]?.sess;

/** Presses "Download your data"; the answer. */
async function download(browser: Browser) {
  return browser.submit('/account/export', '/account/export', {});
}

describe('/account/activity', () => {
  it("lists the user's own history, newest first, with browser, address and time; never another user's", async () => {
    const user = await signUp(t);
    const attackerIp = uniqueIp();
    await failedLogin(user.email, attackerIp);
    const other = await signUp(t);
    const otherIp = uniqueIp();
    await failedLogin(other.email, otherIp);

    const page = await user.browser.get('/account/activity');
    expect(page.status).toBe(200);
    expect(page.headers['cache-control']).toBe('no-store');
    const text = unescapeHtml(page.text);
    expect(entriesOn(page.text)).toBe(2);
    expect(text.indexOf('Failed login attempt')).toBeGreaterThan(-1);
    expect(text.indexOf('Failed login attempt')).toBeLessThan(text.indexOf('Account created'));
    expect(text).toContain(`Firefox 133 on Linux · ${attackerIp}`);
    expect(text).toContain(user.ip);
    expect(page.text).toMatch(/<time datetime="\d{4}-\d\d-\d\dT[\d:.]+Z">/);
    expect(text).not.toContain(otherIp);
    expect(text).not.toContain(other.email);
  });

  it('pages 25 at a time: Older and Newer links, and a page past the end goes to the last one', async () => {
    const user = await signUp(t);
    for (let i = 0; i < 30; i++) await failedLogin(user.email);
    const first = await user.browser.get('/account/activity');
    expect(entriesOn(first.text)).toBe(25);
    expect(first.text).toContain('Page 1 of 2');
    expect(first.text).toContain('href="/account/activity?page=2" rel="next"');
    expect(unescapeHtml(first.text)).toContain('(31 events)');
    const second = await user.browser.get('/account/activity?page=2');
    expect(entriesOn(second.text)).toBe(6);
    expect(second.text).toContain('href="/account/activity?page=1" rel="prev"');
    // The oldest is the sign-up, at the end of the last page.
    expect(second.text.lastIndexOf('Account created')).toBeGreaterThan(second.text.lastIndexOf('Failed login'));
    const beyond = await user.browser.get('/account/activity?page=9');
    expect(beyond.status).toBe(303);
    expect(beyond.headers['location']).toBe('/account/activity?page=2');
    for (const odd of ['abc', '0', '-1', '1e3', '%00']) {
      const answer = await user.browser.get(`/account/activity?page=${odd}`);
      expect(answer.status, odd).toBe(200);
      expect(answer.text, odd).toContain('Page 1 of 2');
    }
  });

  it('prints what a visitor sent (their user agent) as text, never as markup', async () => {
    const user = await signUp(t);
    await failedLogin(user.email, uniqueIp(), '<script>alert("ua")</script>');
    const page = await user.browser.get('/account/activity');
    expect(page.text).not.toContain('<script>alert');
    expect(page.text).toContain('&lt;script&gt;alert');
  });
});

describe('/account/export', () => {
  it('downloads everything kept about the user, as JSON, right after a login; the download is audited', async () => {
    const user = await signUp(t);
    const enrolled = await enrolApp(user.browser);
    const authenticator = new SoftwareAuthenticator(ORIGIN, RP_ID);
    expect((await addPasskey(user.browser, authenticator, { name: 'Work laptop' })).status).toBe(303);
    await failedLogin(user.email);
    const other = await signUp(t);

    const page = await user.browser.get('/account/export');
    expect(page.status).toBe(200);
    expect(page.text).toContain('Download your data');

    const answer = await download(user.browser);
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toMatch(/^application\/json; charset=utf-8/);
    expect(answer.headers['content-disposition']).toMatch(
      /^attachment; filename="?gatehouse-data-\d{4}-\d\d-\d\d\.json"?$/,
    );
    expect(answer.headers['cache-control']).toBe('no-store');
    const data = JSON.parse(answer.text) as {
      format: string;
      profile: Record<string, unknown>;
      open_sessions: Array<Record<string, unknown>>;
      activity: Array<{ event: string; description: string; ip: string | null }>;
      second_factor: {
        authenticator_app: { on_since: string } | null;
        recovery_codes_left: number;
        passkeys: Array<Record<string, unknown>>;
      };
      signed_in_from_browsers: unknown[];
    };
    expect(data.format).toBe('gatehouse-personal-data/1');
    expect(data.profile).toMatchObject({ name: user.name, email: user.email, website: null, active: true });
    expect(data.open_sessions).toHaveLength(1);
    expect(data.open_sessions[0]).toMatchObject({ this_browser: true, ip: user.ip, user_agent: user.userAgent });
    const events = data.activity.map((event) => event.event);
    expect(events).toEqual(expect.arrayContaining(['signup', 'totp_enabled', 'passkey_added', 'login_failed']));
    expect(data.activity.find((event) => event.event === 'signup')?.description).toBe('Account created');
    expect(data.second_factor.authenticator_app?.on_since).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(data.second_factor.recovery_codes_left).toBe(10);
    expect(data.second_factor.passkeys).toEqual([
      expect.objectContaining({ name: 'Work laptop', synced: false, device_type: 'singleDevice' }),
    ]);
    expect(data.signed_in_from_browsers).toHaveLength(1);
    expect(answer.text).not.toContain(other.email);

    // Nothing in it that would let someone sign in as the user: no hash, no session id, no
    // secret, no code, no key.
    const secrets = await t.pool.query<{ password_hash: string; handle: Buffer | null }>(
      'SELECT password_hash, webauthn_handle AS handle FROM users WHERE id = $1',
      [user.id],
    );
    const totp = await t.pool.query<{ sealed: Buffer }>(
      'SELECT secret_sealed AS sealed FROM user_totp WHERE user_id = $1',
      [user.id],
    );
    const codes = await t.pool.query<{ hash: Buffer }>(
      'SELECT code_hash AS hash FROM recovery_codes WHERE user_id = $1',
      [user.id],
    );
    const keys = await t.pool.query<{ credential_id: string; public_key: Buffer }>(
      'SELECT credential_id, public_key FROM passkeys WHERE user_id = $1',
      [user.id],
    );
    const forbidden = [
      secrets.rows[0]?.password_hash ?? 'missing',
      secrets.rows[0]?.handle?.toString('base64url') ?? 'missing',
      sidOf(user.browser),
      enrolled.secret.toString('hex'),
      ...totp.rows.flatMap((row) => [row.sealed.toString('base64'), row.sealed.toString('hex')]),
      ...codes.rows.flatMap((row) => [row.hash.toString('hex'), row.hash.toString('base64')]),
      ...enrolled.codes,
      ...keys.rows.flatMap((row) => [row.credential_id, row.public_key.toString('base64url')]),
    ];
    expect(forbidden.length).toBeGreaterThan(20);
    for (const secret of forbidden) expect(answer.text).not.toContain(secret);
    expect(answer.text).not.toMatch(/\$2[aby]\$/);

    // Audited, and on the activity page.
    expect(await detailsOf(t, user.id, 'data_exported')).toEqual([null]);
    expect(unescapeHtml((await user.browser.get('/account/activity')).text)).toContain('Your data downloaded');
  });

  it('refuses a post without the form token (403), and a body with anything else in it (400): nothing recorded', async () => {
    const user = await signUp(t);
    const bare = await user.browser.agent.post('/account/export').type('form').send({});
    expectCleanRefusal(bare, 403);
    const extra = await user.browser.submit('/account/export', '/account/export', { what: 'all' });
    expectCleanRefusal(extra, 400);
    expect(await detailsOf(t, user.id, 'data_exported')).toEqual([]);
  });
});

describe('a login too old for the export: confirm it is you, then back', () => {
  it('sends the user to confirm with the password and back to the export; a wrong one is a 422', async () => {
    const user = await signUp(t);
    const authAt = await loginAgo(t, user.browser, 11);

    const asked = await user.browser.get('/account/export');
    expect(asked.status).toBe(302);
    expect(asked.headers['location']).toBe('/account/confirm?next=%2Faccount%2Fexport');
    // The download itself is refused the same way (the form sent from the export page).
    const token = await user.browser.csrfFrom('/account/confirm');
    const posted = await user.browser.agent
      .post('/account/export')
      .set('Host', 'accounts.example.test')
      .set('Referer', 'http://accounts.example.test/account/export')
      .type('form')
      .send({ _csrf: token });
    expect(posted.status).toBe(303);
    expect(posted.headers['location']).toBe('/account/confirm?next=%2Faccount%2Fexport');
    expect(posted.headers['content-disposition']).toBeUndefined();

    const form = await user.browser.get('/account/confirm?next=%2Faccount%2Fexport');
    expect(form.status).toBe(200);
    expect(form.text).toContain('<input type="hidden" name="next" value="/account/export">');
    expect(form.text).not.toContain('action="/account/confirm/code"');

    const wrong = await user.browser.submit('/account/confirm', '/account/confirm', {
      password: 'not my password',
      next: '/account/export',
    });
    expect(wrong.status).toBe(422);
    expect(fieldError(wrong.text, 'password')).toBe('That is not your current password.');
    expect((await user.browser.get('/account/export')).status).toBe(302);

    const oldSid = sidOf(user.browser);
    const right = await user.browser.submit('/account/confirm', '/account/confirm', {
      password: PASSWORD,
      next: '/account/export',
    });
    expect(right.status).toBe(303);
    expect(right.headers['location']).toBe('/account/export');
    // A new session id, as at every authentication; the old one opens nothing.
    expect(sidOf(user.browser)).not.toBe(oldSid);
    expect((await t.pool.query('SELECT 1 FROM sessions WHERE sid = $1', [sidHash(oldSid)])).rowCount).toBe(0);
    expect((await user.browser.get('/account/export')).status).toBe(200);
    expect((await download(user.browser)).status).toBe(200);

    expect(await detailsOf(t, user.id, 'login_confirmed')).toEqual(['password']);
    expect(await detailsOf(t, user.id, 'login_failed')).toEqual(['wrong current password (confirming it is you)']);
    // Confirming does not restart the session's absolute lifetime.
    expect((await sessionJson(user.browser))?.['authAt']).toBe(authAt);
  });

  it('lets the page through for ten minutes after the login, and not after', async () => {
    const user = await signUp(t);
    await loginAgo(t, user.browser, 9);
    expect((await user.browser.get('/account/export')).status).toBe(200);
    await loginAgo(t, user.browser, 10.5);
    expect((await user.browser.get('/account/export')).status).toBe(302);
    // A login time from the future (a forged or garbled session) counts as old, not as fresh.
    await loginAgo(t, user.browser, -30);
    expect((await user.browser.get('/account/export')).status).not.toBe(200);
  });

  it('accepts a code from the authenticator app instead; a wrong code is a 422 and is recorded', async () => {
    const user = await signUp(t);
    const { secret } = await enrolApp(user.browser);
    await loginAgo(t, user.browser, 30);
    const form = await user.browser.get('/account/confirm?next=%2Faccount%2Fexport');
    expect(form.text).toContain('action="/account/confirm/code"');
    expect(form.text).toContain('autocomplete="one-time-code"');

    const wrong = await user.browser.submit('/account/confirm', '/account/confirm/code', {
      code: '000000',
      next: '/account/export',
    });
    expect(wrong.status).toBe(422);
    expect(fieldError(wrong.text, 'code')).toBe("That code didn't work. Try the newest code from your app.");
    await awayFromStepEdge();
    const right = await user.browser.submit('/account/confirm', '/account/confirm/code', {
      code: totpCode(secret, stepAt()),
      next: '/account/export',
    });
    expect(right.status).toBe(303);
    expect(right.headers['location']).toBe('/account/export');
    expect((await user.browser.get('/account/export')).status).toBe(200);
    expect(await detailsOf(t, user.id, 'login_confirmed')).toEqual(['authenticator app']);
    expect(await detailsOf(t, user.id, 'second_factor_failed')).toEqual([
      'a wrong authenticator code (confirming it is you)',
    ]);
  });

  it("accepts one of the user's own passkeys, and refuses another user's", async () => {
    const user = await signUp(t);
    const mine = new SoftwareAuthenticator(ORIGIN, RP_ID);
    expect((await addPasskey(user.browser, mine)).status).toBe(200); // the first factor: recovery codes shown
    const other = await signUp(t);
    const theirs = new SoftwareAuthenticator(ORIGIN, RP_ID);
    expect((await addPasskey(other.browser, theirs)).status).toBe(200);
    await loginAgo(t, user.browser, 30);

    const page = await user.browser.get('/account/confirm?next=%2Faccount%2Fexport');
    expect(page.text).toContain('data-passkey-button');
    // Another user's passkey, answering this user's ceremony: the confirm page again, nothing opened.
    const first = await signInOptions(user.browser, '/account/confirm');
    expect(first.options.allowCredentials?.map((key) => key.id)).toEqual(mine.credentialIds);
    const refused = await signInWith(
      user.browser,
      first.csrf,
      theirs.authenticate(first.options, theirs.credentialIds[0]),
      '/account/export',
    );
    expect(refused.status).toBe(422);
    expect(unescapeHtml(refused.text)).toContain("That passkey didn't work. Try again, or use your password.");
    expect(refused.text).toContain('name="next" value="/account/export"');
    expect((await user.browser.get('/account/export')).status).toBe(302);

    const second = await signInOptions(user.browser, '/account/confirm');
    const accepted = await signInWith(user.browser, second.csrf, mine.authenticate(second.options), '/account/export');
    expect(accepted.status).toBe(303);
    expect(accepted.headers['location']).toBe('/account/export');
    expect((await user.browser.get('/account/export')).status).toBe(200);
    expect(await detailsOf(t, user.id, 'login_confirmed')).toEqual(['passkey']);
    // Still the same user's session.
    expect(unescapeHtml((await user.browser.get('/')).text)).toContain(user.email);
  });

  it('goes back only to a page of this site', async () => {
    const user = await signUp(t);
    await loginAgo(t, user.browser, 30);
    for (const next of ['//evil.example/x', 'https://evil.example/', '/\\evil.example', 'javascript:alert(1)']) {
      const form = await user.browser.get(`/account/confirm?next=${encodeURIComponent(next)}`);
      expect(form.text, next).toContain('<input type="hidden" name="next" value="/">');
      const sent = await user.browser.submit('/account/confirm', '/account/confirm', { password: PASSWORD, next });
      expect(sent.headers['location'], next).toBe('/');
    }
  });

  it('counts wrong passwords like logins: over the limit, 429', async () => {
    const strict = await t.sibling({ LOGIN_FAILURES_PER_ACCOUNT: '2' });
    const user = await signUp(strict);
    await loginAgo(t, user.browser, 30);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const answer = await user.browser.submit('/account/confirm', '/account/confirm', { password: `wrong ${i}` });
      statuses.push(answer.status);
    }
    expect(statuses).toEqual([422, 422, 429]);
    const locked = await user.browser.submit('/account/confirm', '/account/confirm', { password: PASSWORD });
    expectCleanRefusal(locked, 429);
    expect(locked.headers['retry-after']).toMatch(/^\d+$/);
  });

  it('sends a visitor to log in first, not to confirm', async () => {
    const answer = await visitor(t.app).get('/account/export');
    expect(answer.status).toBe(302);
    expect(answer.headers['location']).toBe('/login?next=%2Faccount%2Fexport');
  });
});
