import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actedRows, confirmAction, consoleAdmin, grantAdmin, sameBrowserOn } from './support/admin.js';
import { type Browser, PASSWORD } from './support/browser.js';
import { corpus } from './support/corpus.js';
import { mailMark, mailsAfter, waitForMailTo } from './support/mail.js';
import { expectCleanRefusal, flashesOn, inputValue, unescapeHtml } from './support/pages.js';
import { type TestApp, startTestApp } from './support/test-app.js';
import { enrolApp } from './support/two-factor.js';
import {
  FIREFOX_LINUX,
  TRUST_LOOPBACK,
  loggedInBrowser,
  loginAgo,
  sessionRowsOf,
  signUp,
  userById,
  visitor,
} from './support/users.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { ORIGIN, RP_ID, addPasskey } from './support/passkeys.js';

/**
 * The admin console (issue 23; the contract's "Admin console"), over HTTP against the real app and
 * database: who gets in, what it shows, what it does (each action audited with the admin, shown on
 * the owner's activity page, mailed to the owner), and its limits.
 */

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ ...TRUST_LOOPBACK });
});
afterAll(async () => {
  await t.close();
});

const ACTIONS = [
  'end-sessions',
  'deactivate',
  'reactivate',
  'send-reset',
  'reset-factors',
  'verify-email',
  'remove-passkey',
] as const;

/** Every console route as [method, path] for the account `id`. */
const consoleRoutes = (id: string): Array<['GET' | 'POST', string]> => [
  ['GET', '/admin'],
  ['GET', '/admin/users'],
  ['GET', '/admin/users?q=a&page=2'],
  ['GET', `/admin/users/${id}`],
  ['GET', '/admin/events'],
  ['GET', '/admin/events?kind=login'],
  ...ACTIONS.map((action): ['GET', string] => ['GET', `/admin/users/${id}/${action}`]),
  ...ACTIONS.map((action): ['POST', string] => ['POST', `/admin/users/${id}/${action}`]),
  // Paths no route answers, and a method the route does not: still nothing but 404 to a non-admin.
  ['POST', '/admin/users'],
  ['POST', '/admin/events'],
  ['GET', '/admin/nothing-here'],
  ['GET', '/ADMIN/USERS'],
];

const PAGE_NOT_FOUND = 'There is no page at this address.';

describe('getting in', () => {
  it('sends a visitor on every console page to the login page, with the page as next', async () => {
    const guest = visitor(t.app);
    for (const path of ['/admin', '/admin/users?q=ada', '/admin/users/1', '/admin/events?kind=login']) {
      const answer = await guest.get(path);
      expect(answer.status, path).toBe(302);
      expect(answer.headers['location']).toBe(`/login?next=${encodeURIComponent(path)}`);
    }
  });

  it("gives a logged-in user who is not an admin the site's 404 on every console route, POSTs with a valid token included, and changes nothing", async () => {
    const target = await signUp(t);
    const user = await signUp(t);
    const token = await user.browser.csrfFrom('/account');
    const plain404 = await user.browser.get('/no-such-page');
    expect(plain404.status).toBe(404);
    for (const [method, path] of consoleRoutes(target.id)) {
      const answer =
        method === 'GET'
          ? await user.browser.get(path)
          : await user.browser.agent.post(path).type('form').send({ _csrf: token, confirm: target.email });
      expect(answer.status, `${method} ${path}`).toBe(404);
      expect(answer.text, `${method} ${path}`).toContain(PAGE_NOT_FOUND);
      // The same page as any missing one: no header that says there is something here.
      expect(answer.headers['x-robots-tag'], `${method} ${path}`).toBeUndefined();
      expect(answer.headers['allow'], `${method} ${path}`).toBeUndefined();
    }
    expect((await userById(t, target.id))?.is_active).toBe(true);
    expect(await sessionRowsOf(t, target.id)).toHaveLength(1);
    expect(await actedRows(t, target.id)).toEqual([]);
    // Each refusal is a warning in the log, naming the user.
    const warnings = t.logs.filter((line) => line.includes('admin console refused: not an admin'));
    expect(warnings.some((line) => line.includes(`"userId":${user.id}`))).toBe(true);
  });

  it('a revoked admin is back to the 404 at once', async () => {
    const admin = await consoleAdmin(t);
    expect((await admin.browser.get('/admin/users')).status).toBe(200);
    await grantAdmin(t, admin.email, false);
    expect((await admin.browser.get('/admin/users')).status).toBe(404);
  });

  it('no web page can make an admin: admin_roles is written only by its repo, whose grant and revoke only the admin command calls', () => {
    const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src');
    const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts'));
    const writers = files.filter((file) =>
      /(?:INSERT INTO|UPDATE|DELETE FROM)\s+admin_roles/i.test(readFileSync(path.join(src, file), 'utf8')),
    );
    expect(writers).toEqual([path.join('admin-console', 'admin-roles-repo.ts')]);
    const callers = files.filter((file) =>
      /roles\.(?:grant|revoke)\(/.test(readFileSync(path.join(src, file), 'utf8')),
    );
    expect(callers).toEqual([path.join('admin', 'admin-accounts.ts')]);
    // ...and admin-accounts' setAdmin is the admin command's (its command and its entry point): no route or page reaches it.
    const setAdminCallers = files.filter((file) => /\.setAdmin\(/.test(readFileSync(path.join(src, file), 'utf8')));
    expect(setAdminCallers.sort()).toEqual([path.join('admin', 'admin-commands.ts'), 'users-cli.ts']);
  });

  it('shows an admin without a second factor a page saying to set one up, and nothing else', async () => {
    const target = await signUp(t);
    const admin = await signUp(t);
    await grantAdmin(t, admin.email);
    for (const path of ['/admin', '/admin/users', `/admin/users/${target.id}`, '/admin/events']) {
      const answer = await admin.browser.get(path);
      expect(answer.status, path).toBe(403);
      expect(answer.text).toContain('Set up a second factor first');
      expect(answer.text).not.toContain(target.email);
    }
    const token = await admin.browser.csrfFrom('/account');
    const post = await admin.browser.agent
      .post(`/admin/users/${target.id}/deactivate`)
      .type('form')
      .send({ _csrf: token, confirm: target.email });
    expect(post.status).toBe(403);
    expect((await userById(t, target.id))?.is_active).toBe(true);
    // Once an authenticator app is set up, the console opens.
    await enrolApp(admin.browser);
    expect((await admin.browser.get('/admin/users')).status).toBe(200);
  });

  it('a passkey is a second factor for the console too', async () => {
    const admin = await signUp(t);
    await grantAdmin(t, admin.email);
    expect((await admin.browser.get('/admin/users')).status).toBe(403);
    await addPasskey(admin.browser, new SoftwareAuthenticator(ORIGIN, RP_ID));
    expect((await admin.browser.get('/admin/users')).status).toBe(200);
  });

  it('sends an admin whose login is older than 10 minutes through "confirm it\'s you", for pages and actions', async () => {
    const target = await signUp(t);
    const admin = await consoleAdmin(t);
    await loginAgo(t, admin.browser, 9);
    expect((await admin.browser.get('/admin/users')).status).toBe(200);
    await loginAgo(t, admin.browser, 11);
    const page = await admin.browser.get(`/admin/users/${target.id}`);
    expect(page.status).toBe(302);
    expect(page.headers['location']).toBe(`/account/confirm?next=${encodeURIComponent(`/admin/users/${target.id}`)}`);
    const token = await admin.browser.csrfFrom('/account');
    const post = await admin.browser.agent
      .post(`/admin/users/${target.id}/end-sessions`)
      .type('form')
      .send({ _csrf: token, confirm: target.email });
    expect(post.status).toBe(303);
    expect(post.headers['location']).toMatch(/^\/account\/confirm\?next=/);
    expect(await sessionRowsOf(t, target.id)).toHaveLength(1);
  });

  it('answers an admin with no-store and X-Robots-Tag: noindex on every console page', async () => {
    const target = await signUp(t);
    const admin = await consoleAdmin(t);
    for (const path of [
      '/admin/users',
      `/admin/users/${target.id}`,
      `/admin/users/${target.id}/end-sessions`,
      '/admin/events',
    ]) {
      const answer = await admin.browser.get(path);
      expect(answer.status, path).toBe(200);
      expect(answer.headers['cache-control'], path).toBe('no-store');
      expect(answer.headers['x-robots-tag'], path).toMatch(/noindex/);
    }
    const redirect = await admin.browser.get('/admin');
    expect(redirect.headers['location']).toBe('/admin/users');
    // To an admin (only), a console path asked with a method it does not answer is a 405.
    const put = await admin.browser.agent
      .put('/admin/users')
      .type('form')
      .send({ _csrf: await admin.browser.csrfFrom('/admin/users') });
    expect(put.status).toBe(405);
    expect(put.headers['allow']).toBe('GET, HEAD');
  });
});

describe('/admin/users', () => {
  it('finds accounts by the start of their email or name in any case, newest first, with their status', async () => {
    const admin = await consoleAdmin(t);
    const tag = `zq${Date.now().toString(36)}`;
    const older = await signUp(t, { email: `${tag}-older@example.com`, name: 'Grace Hopper' });
    const newer = await signUp(t, { email: `${tag}-newer@example.com`, name: `${tag.toUpperCase()} Newer` });
    await t.pool.query('UPDATE users SET is_active = false WHERE id = $1', [older.id]);
    const page = await admin.browser.get(`/admin/users?q=${tag.toUpperCase()}`);
    expect(page.status).toBe(200);
    const text = unescapeHtml(page.text);
    expect(text.indexOf(newer.email)).toBeGreaterThan(-1);
    expect(text.indexOf(newer.email)).toBeLessThan(text.indexOf(older.email));
    expect(text).toContain('Deactivated');
    expect(text).toContain('Unverified');
    // By name: the start of "Grace", not the middle of anything.
    expect(unescapeHtml((await admin.browser.get('/admin/users?q=grace%20hop')).text)).toContain(older.email);
    expect(unescapeHtml((await admin.browser.get(`/admin/users?q=${tag.slice(1)}`)).text)).not.toContain(older.email);
    // A typed wildcard is a character, not "anything".
    expect(unescapeHtml((await admin.browser.get(`/admin/users?q=${tag}%25`)).text)).not.toContain(older.email);
    expect(unescapeHtml((await admin.browser.get(`/admin/users?q=${tag.slice(0, 2)}_`)).text)).not.toContain(
      older.email,
    );
    // The admin's own row says admin and second factor.
    const self = unescapeHtml((await admin.browser.get(`/admin/users?q=${encodeURIComponent(admin.email)}`)).text);
    expect(self).toContain('Admin');
    expect(self).toContain('Second factor');
  });

  it('shows 50 a page and pages on, newest first', async () => {
    const admin = await consoleAdmin(t);
    const tag = `pg${Date.now().toString(36)}`;
    // Rows straight into the table (signing up 51 through the form only slows the test): newest is n=51.
    await t.pool.query(
      `INSERT INTO users (name, email, password_hash, created_at)
       SELECT 'Paged ' || n, $1 || '-' || lpad(n::text, 2, '0') || '@example.com', 'x', now() - make_interval(mins => 100 - n)
         FROM generate_series(1, 51) AS n`,
      [tag],
    );
    const first = unescapeHtml((await admin.browser.get(`/admin/users?q=${tag}`)).text);
    expect(first.match(new RegExp(`${tag}-\\d\\d@example\\.com</strong>`, 'g'))).toHaveLength(50);
    expect(first).toContain(`${tag}-51@example.com`);
    expect(first).not.toContain(`${tag}-01@example.com`);
    expect(first).toContain(`href="/admin/users?q=${tag}&page=2"`);
    const second = unescapeHtml((await admin.browser.get(`/admin/users?q=${tag}&page=2`)).text);
    expect(second.match(new RegExp(`${tag}-\\d\\d@example\\.com</strong>`, 'g'))).toEqual([
      `${tag}-01@example.com</strong>`,
    ]);
    expect(second).not.toContain('rel="next"');
  });

  it('searches on indexes: the email and the name prefix are each an index scan', async () => {
    const client = await t.pool.connect();
    try {
      await client.query('SET enable_seqscan = off');
      for (const column of ['email', 'name']) {
        const plan = (
          await client.query<{ 'QUERY PLAN': string }>(
            `EXPLAIN SELECT id FROM users WHERE lower(${column}) LIKE 'abc%'`,
          )
        ).rows
          .map((row) => row['QUERY PLAN'])
          .join('\n');
        expect(plan).toContain(`users_${column}_prefix_idx`);
      }
    } finally {
      await client.query('RESET enable_seqscan');
      client.release();
    }
  });

  it('answers a bad page with 400, a bad id with 404, and hostile searches with no 500', async () => {
    const admin = await consoleAdmin(t);
    for (const page of ['0', '-1', 'abc', '1e3', '9999999', '1&page=2']) {
      expectCleanRefusal(await admin.browser.get(`/admin/users?page=${page}`), 400);
    }
    for (const id of ['0', 'abc', '1.5', '-3', '99999999999999999999', '%00', '999999999']) {
      expectCleanRefusal(await admin.browser.get(`/admin/users/${id}`), 404);
      expectCleanRefusal(await admin.browser.get(`/admin/users/${id}/end-sessions`), 404);
    }
    const target = await signUp(t);
    expectCleanRefusal(await admin.browser.get(`/admin/users/${target.id}/explode`), 404);
    expectCleanRefusal(await admin.browser.get(`/admin/users/${target.id}/remove-passkey?passkey=nope`), 404);
    const hostile = [...corpus('bad-next.txt'), '\u0000', '%', '_', '\\', "' OR 1=1 --", 'ä'.repeat(300)].map(
      encodeURIComponent,
    );
    // And what no encoder makes: a lone surrogate's bytes, a bare %, a query given twice.
    hostile.push('%ED%A0%80', '%', '%zz', 'a&q=b', '%C0%AF');
    for (const q of hostile) {
      const answer = await admin.browser.get(`/admin/users?q=${q}`);
      expect([200, 400], q).toContain(answer.status);
      if (answer.status === 400) expectCleanRefusal(answer, 400);
    }
    expectCleanRefusal(await admin.browser.get(`/admin/users?q=${encodeURIComponent('\u0000')}`), 400);
  });
});

describe('/admin/users/ID', () => {
  it("shows the account's profile, factors, open sessions and latest events", async () => {
    const admin = await consoleAdmin(t);
    const target = await signUp(t, { name: 'Ada <b>Lovelace</b>' });
    await enrolApp(target.browser);
    await loggedInBrowser(t.app, target.email, PASSWORD, FIREFOX_LINUX).catch(() => undefined);
    const page = await admin.browser.get(`/admin/users/${target.id}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Ada &lt;b&gt;Lovelace&lt;/b&gt;');
    const text = unescapeHtml(page.text);
    expect(text).toContain(target.email);
    expect(text).toMatch(/Authenticator app<\/dt><dd>on since/);
    expect(text).toMatch(/Recovery codes<\/dt><dd>10 left/);
    expect(text).toContain('Chrome'); // the signup browser's session
    expect(text).toContain(target.ip);
    expect(text).toContain('Authenticator app turned on');
    expect(text).toContain('Account created');
  });

  it('shows the sign-in provider identities linked to the account, and none for one without', async () => {
    const admin = await consoleAdmin(t);
    const target = await signUp(t);
    const before = unescapeHtml((await admin.browser.get(`/admin/users/${target.id}`)).text);
    expect(before).toContain('Sign-in providers</dt><dd>none');
    // The identity a sign-in at "acme" would have linked (identity-providers.test.ts makes them for real).
    await t.pool.query(
      `INSERT INTO identities (user_id, provider, issuer, subject, email_seen) VALUES ($1, 'acme', 'https://id.acme.test', 'sub-1', $2)`,
      [target.id, target.email],
    );
    const after = unescapeHtml((await admin.browser.get(`/admin/users/${target.id}`)).text);
    expect(after).toContain('Sign-in providers</dt><dd>1');
    expect(after).toMatch(/<strong>acme<\/strong> <span class="muted">[^<]*<\/span>/);
    expect(after).toContain(`<strong>acme</strong> <span class="muted">${target.email}</span>`);
  });
});

/** Opens the owner's activity page: the line for `what` says it was done by an administrator. */
async function expectActivityByAdmin(browser: Browser, what: string, admin: { ip: string }) {
  const activity = unescapeHtml((await browser.get('/account/activity')).text);
  const line = activity.split('<li class="activity-event').find((item) => item.includes(`<strong>${what}</strong>`));
  expect(line, `"${what}" on the activity page`).toBeDefined();
  expect(line).toContain('by an administrator');
  // Which administrator, and from where, is the audit trail's, not the owner's.
  expect(line).not.toContain(admin.ip);
}

describe('actions', () => {
  it('end-sessions: names the account first, then signs out every session; audited with the admin, on the owner’s activity page, mailed', async () => {
    const admin = await consoleAdmin(t);
    const target = await signUp(t);
    const other = await loggedInBrowser(t.app, target.email);
    const confirmation = await admin.browser.get(`/admin/users/${target.id}/end-sessions`);
    expect(unescapeHtml(confirmation.text)).toContain(target.email);
    expect(inputValue(confirmation.text, 'confirm')).toBe(target.email);
    const mark = await mailMark(t);
    const done = await confirmAction(admin.browser, target.id, 'end-sessions');
    expect(done.status).toBe(303);
    expect(done.headers['location']).toBe(`/admin/users/${target.id}`);
    expect(await sessionRowsOf(t, target.id)).toHaveLength(0);
    expect((await other.get('/')).status).toBe(302);
    expect(await actedRows(t, target.id)).toEqual([
      { event: 'sessions_ended', user_id: target.id, actor_id: String(admin.id), detail: '2 session(s) ended' },
    ]);
    const mail = (await mailsAfter(t, mark)).filter((m) => m.to === target.email);
    expect(mail.map((m) => m.template)).toEqual(['changed-by-admin']);
    expect(mail[0]?.text).toContain('signed your account out of every browser');
    expect(mail[0]?.text).not.toContain(admin.email);
    const back = await loggedInBrowser(t.app, target.email);
    await expectActivityByAdmin(back, 'Signed out everywhere else', admin);
    expect(unescapeHtml((await back.get('/account/activity')).text)).not.toContain(admin.email);
    // The owner's download says the same, and no more.
    const exported = await back.submit('/account/export', '/account/export', {});
    expect(exported.status).toBe(200);
    const { activity } = JSON.parse(exported.text) as { activity: Array<Record<string, unknown>> };
    expect(activity.find((event) => event['event'] === 'sessions_ended')).toMatchObject({
      by: 'an administrator',
      ip: null,
      user_agent: null,
    });
    expect(exported.text).not.toContain(admin.email);
  });

  it('deactivate then reactivate: the account cannot log in, then can; each audited, shown and mailed', async () => {
    const admin = await consoleAdmin(t);
    const target = await signUp(t);
    const mark = await mailMark(t);
    expect((await confirmAction(admin.browser, target.id, 'deactivate')).status).toBe(303);
    expect((await userById(t, target.id))?.is_active).toBe(false);
    expect(await sessionRowsOf(t, target.id)).toHaveLength(0);
    expect((await visitor(t.app).submit('/login', '/login', { email: target.email, password: PASSWORD })).status).toBe(
      422,
    );
    expect((await confirmAction(admin.browser, target.id, 'reactivate')).status).toBe(303);
    expect((await userById(t, target.id))?.is_active).toBe(true);
    expect((await actedRows(t, target.id)).map((row) => [row.event, row.actor_id])).toEqual([
      ['deactivated', String(admin.id)],
      ['activated', String(admin.id)],
    ]);
    const mail = (await mailsAfter(t, mark)).filter((m) => m.to === target.email);
    expect(mail.map((m) => m.text.includes('deactivated') || m.text.includes('reactivated'))).toEqual([true, true]);
    const back = await loggedInBrowser(t.app, target.email);
    await expectActivityByAdmin(back, 'Account deactivated', admin);
    await expectActivityByAdmin(back, 'Account reactivated', admin);
  });

  it('send-reset: mails a working reset link to the account; audited and shown', async () => {
    const admin = await consoleAdmin(t);
    const target = await signUp(t);
    const mark = await mailMark(t);
    expect((await confirmAction(admin.browser, target.id, 'send-reset')).status).toBe(303);
    const mail = await waitForMailTo(t, target.email, 'password-reset', mark);
    expect(mail.text).toMatch(/\/password\/reset\?token=/);
    expect((await actedRows(t, target.id)).map((row) => row.event)).toEqual(['password_reset_requested']);
    await expectActivityByAdmin(target.browser, 'Password reset asked for', admin);
  });

  it('reset-factors: removes the app, the codes and the passkeys, as mfa:reset does; audited, shown, mailed', async () => {
    const admin = await consoleAdmin(t);
    const target = await signUp(t);
    await enrolApp(target.browser);
    await addPasskey(target.browser, new SoftwareAuthenticator(ORIGIN, RP_ID));
    const mark = await mailMark(t);
    expect((await confirmAction(admin.browser, target.id, 'reset-factors')).status).toBe(303);
    const left = await t.pool.query(
      `SELECT (SELECT count(*) FROM user_totp WHERE user_id = $1)::int AS app,
              (SELECT count(*) FROM recovery_codes WHERE user_id = $1)::int AS codes,
              (SELECT count(*) FROM passkeys WHERE user_id = $1)::int AS keys`,
      [target.id],
    );
    expect(left.rows[0]).toEqual({ app: 0, codes: 0, keys: 0 });
    expect(await actedRows(t, target.id)).toEqual([
      expect.objectContaining({ event: 'mfa_reset', actor_id: String(admin.id) }),
    ]);
    const mail = await waitForMailTo(t, target.email, 'security-change', mark);
    expect(mail.text).toContain('was removed');
    await expectActivityByAdmin(target.browser, 'Second factors removed by an administrator', admin);
  });

  it('verify-email: marks the address verified; audited, shown, mailed', async () => {
    const admin = await consoleAdmin(t);
    const target = await signUp(t);
    expect((await userById(t, target.id))?.email_verified_at).toBeNull();
    const mark = await mailMark(t);
    expect((await confirmAction(admin.browser, target.id, 'verify-email')).status).toBe(303);
    expect((await userById(t, target.id))?.email_verified_at).not.toBeNull();
    expect((await actedRows(t, target.id)).map((row) => row.event)).toEqual(['email_verified']);
    const mail = (await mailsAfter(t, mark)).filter((m) => m.to === target.email);
    expect(mail.map((m) => m.template)).toEqual(['changed-by-admin']);
    await expectActivityByAdmin(target.browser, 'Email address confirmed', admin);
    // Done again, it is already so: nothing new recorded.
    const again = await confirmAction(admin.browser, target.id, 'verify-email');
    expect(flashesOn((await admin.browser.get(again.headers['location'] as string)).text)).toContain(
      'The address was already verified.',
    );
    expect(await actedRows(t, target.id)).toHaveLength(1);
  });

  it('remove-passkey: the confirmation names the passkey; only that one goes; audited, shown, mailed', async () => {
    const admin = await consoleAdmin(t);
    const target = await signUp(t);
    await addPasskey(target.browser, new SoftwareAuthenticator(ORIGIN, RP_ID));
    await addPasskey(target.browser, new SoftwareAuthenticator(ORIGIN, RP_ID));
    const keys = (
      await t.pool.query<{ id: string; name: string }>(
        'SELECT id::text AS id, name FROM passkeys WHERE user_id = $1 ORDER BY created_at',
        [target.id],
      )
    ).rows;
    expect(keys).toHaveLength(2);
    const [first] = keys;
    if (!first) throw new Error('no passkey');
    const confirmation = await admin.browser.get(`/admin/users/${target.id}/remove-passkey?passkey=${first.id}`);
    expect(unescapeHtml(confirmation.text)).toContain(first.name);
    const mark = await mailMark(t);
    expect((await confirmAction(admin.browser, target.id, 'remove-passkey', first.id)).status).toBe(303);
    const after = (
      await t.pool.query<{ id: string }>('SELECT id::text AS id FROM passkeys WHERE user_id = $1', [target.id])
    ).rows;
    expect(after.map((row) => row.id)).toEqual([keys[1]?.id]);
    expect(await actedRows(t, target.id)).toEqual([
      expect.objectContaining({ event: 'passkey_removed', actor_id: String(admin.id), detail: first.name }),
    ]);
    const mail = (await mailsAfter(t, mark)).filter((m) => m.to === target.email);
    expect(mail.map((m) => m.template)).toEqual(['changed-by-admin']);
    await expectActivityByAdmin(target.browser, 'Passkey removed', admin);
    // Another account's passkey, or none, is no page.
    const stranger = await signUp(t);
    expectCleanRefusal(
      await admin.browser.get(`/admin/users/${stranger.id}/remove-passkey?passkey=${keys[1]?.id ?? ''}`),
      404,
    );
  });

  it('refuses a reset link or a verified address for a deactivated account (409), and mails nothing', async () => {
    const admin = await consoleAdmin(t);
    const target = await signUp(t);
    await t.pool.query('UPDATE users SET is_active = false WHERE id = $1', [target.id]);
    const mark = await mailMark(t);
    for (const action of ['send-reset', 'verify-email']) {
      expectCleanRefusal(await confirmAction(admin.browser, target.id, action), 409);
    }
    expect((await userById(t, target.id))?.email_verified_at).toBeNull();
    expect(await actedRows(t, target.id)).toEqual([]);
    expect((await mailsAfter(t, mark)).filter((m) => m.to === target.email)).toEqual([]);
  });

  it('does nothing without the confirmation (the account named), without a CSRF token, or from another site', async () => {
    const admin = await consoleAdmin(t);
    const target = await signUp(t);
    const path = `/admin/users/${target.id}/deactivate`;
    const token = await admin.browser.csrfFrom(path);
    const unconfirmed = await admin.browser.agent.post(path).type('form').send({ _csrf: token });
    expectCleanRefusal(unconfirmed, 400);
    const wrongAccount = await admin.browser.agent.post(path).type('form').send({ _csrf: token, confirm: admin.email });
    expectCleanRefusal(wrongAccount, 400);
    expectCleanRefusal(await admin.browser.agent.post(path).type('form').send({ confirm: target.email }), 403);
    expectCleanRefusal(
      await admin.browser.agent.post(path).type('form').send({ _csrf: 'forged', confirm: target.email }),
      403,
    );
    const crossSite = await admin.browser.agent
      .post(path)
      .set('Sec-Fetch-Site', 'cross-site')
      .type('form')
      .send({ _csrf: token, confirm: target.email });
    expectCleanRefusal(crossSite, 403);
    const otherUserToken = await (await signUp(t)).browser.csrfFrom('/account');
    expectCleanRefusal(
      await admin.browser.agent.post(path).type('form').send({ _csrf: otherUserToken, confirm: target.email }),
      403,
    );
    expectCleanRefusal(
      await admin.browser.agent.post(path).type('form').send({ _csrf: token, confirm: target.email, extra: '1' }),
      400,
    );
    expect((await userById(t, target.id))?.is_active).toBe(true);
    expect(await actedRows(t, target.id)).toEqual([]);
  });

  it("refuses every action on the admin's own account, and every action but end-sessions on another admin's", async () => {
    const admin = await consoleAdmin(t);
    const otherAdmin = await consoleAdmin(t);
    const token = await admin.browser.csrfFrom('/admin/users');
    for (const action of ACTIONS) {
      const own = await admin.browser.agent
        .post(`/admin/users/${admin.id}/${action}`)
        .type('form')
        .send({ _csrf: token, confirm: admin.email });
      expectCleanRefusal(own, action === 'remove-passkey' ? 403 : 403);
      expectCleanRefusal(await admin.browser.get(`/admin/users/${admin.id}/${action}`), 403);
      if (action === 'end-sessions') continue;
      const theirs = await admin.browser.agent
        .post(`/admin/users/${otherAdmin.id}/${action}`)
        .type('form')
        .send({ _csrf: token, confirm: otherAdmin.email });
      expectCleanRefusal(theirs, 403);
    }
    expect((await userById(t, String(admin.id)))?.is_active).toBe(true);
    expect((await userById(t, String(otherAdmin.id)))?.is_active).toBe(true);
    expect(await actedRows(t, String(otherAdmin.id))).toEqual([]);
    // Ending another admin's sessions is allowed (a stolen admin session can be cut off by a colleague).
    expect((await confirmAction(admin.browser, String(otherAdmin.id), 'end-sessions')).status).toBe(303);
    expect(await sessionRowsOf(t, String(otherAdmin.id))).toHaveLength(0);
  });
});

describe('all or nothing', () => {
  it('an action that fails half-way (its audit row refused by the database) is an error page, and leaves the account, its sessions and its mail as they were', async () => {
    const admin = await consoleAdmin(t);
    const target = await signUp(t);
    const id = Number(target.id);
    // A real fault: a trigger raises when the deactivation's audit row is written, after the flag and the sessions changed.
    await t.pool.query(`
      CREATE FUNCTION console_fault() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.user_id = ${id} AND NEW.event = 'deactivated' THEN RAISE EXCEPTION 'injected fault'; END IF;
        RETURN NEW;
      END $$`);
    await t.pool.query(
      'CREATE TRIGGER console_fault BEFORE INSERT ON auth_events FOR EACH ROW EXECUTE FUNCTION console_fault()',
    );
    const mark = await mailMark(t);
    try {
      const answer = await confirmAction(admin.browser, target.id, 'deactivate');
      expect(answer.status).toBeGreaterThanOrEqual(500);
      expect(answer.text).not.toMatch(/injected fault/);
    } finally {
      await t.pool.query('DROP TRIGGER console_fault ON auth_events');
      await t.pool.query('DROP FUNCTION console_fault()');
    }
    expect((await userById(t, target.id))?.is_active).toBe(true);
    expect(await sessionRowsOf(t, target.id)).toHaveLength(1);
    expect(await actedRows(t, target.id)).toEqual([]);
    expect((await mailsAfter(t, mark)).filter((m) => m.to === target.email)).toEqual([]);
  });
});

describe('/admin/events', () => {
  it('lists the audit trail newest first, filtered by kind, email, address and dates, naming the acting admin', async () => {
    const admin = await consoleAdmin(t);
    const target = await signUp(t, { ip: '198.51.100.77' });
    await confirmAction(admin.browser, target.id, 'end-sessions');
    const listOf = (html: string) => unescapeHtml(html.slice(html.indexOf('<ol class="activity">')));
    const byEmail = listOf(
      (await admin.browser.get(`/admin/events?email=${encodeURIComponent(target.email.toUpperCase())}`)).text,
    );
    expect(byEmail.indexOf('Signed out everywhere else')).toBeGreaterThan(-1);
    expect(byEmail.indexOf('Signed out everywhere else')).toBeLessThan(byEmail.indexOf('Account created'));
    expect(byEmail).toContain(`by the administrator <a href="/admin/users/${admin.id}">${admin.email}</a>`);
    const byKind = listOf(
      (await admin.browser.get(`/admin/events?kind=signup&email=${encodeURIComponent(target.email)}`)).text,
    );
    expect(byKind).toContain('Account created');
    expect(byKind).not.toContain('Signed out everywhere else');
    const byIp = unescapeHtml((await admin.browser.get('/admin/events?ip=198.51.100.77')).text);
    expect(byIp).toContain(target.email);
    const today = new Date().toISOString().slice(0, 10);
    const todays = unescapeHtml(
      (await admin.browser.get(`/admin/events?from=${today}&to=${today}&email=${encodeURIComponent(target.email)}`))
        .text,
    );
    expect(todays).toContain('Account created');
    const past = unescapeHtml(
      (await admin.browser.get(`/admin/events?from=2000-01-01&to=2000-01-02&email=${encodeURIComponent(target.email)}`))
        .text,
    );
    expect(past).toContain('No events match.');
  });

  it('pages the trail, 50 a page', async () => {
    const admin = await consoleAdmin(t);
    const target = await signUp(t);
    await t.pool.query(
      `INSERT INTO auth_events (user_id, event, ip, created_at)
       SELECT $1, 'login_failed', '192.0.2.' || n, now() - make_interval(secs => n) FROM generate_series(1, 60) AS n`,
      [target.id],
    );
    const filter = `kind=login_failed&email=${encodeURIComponent(target.email)}`;
    const first = (await admin.browser.get(`/admin/events?${filter}`)).text;
    expect(first.match(/<li class="activity-event/g)).toHaveLength(50);
    expect(first).toContain('192.0.2.1</div>');
    const second = (await admin.browser.get(`/admin/events?${filter}&page=2`)).text;
    expect(second.match(/<li class="activity-event/g)).toHaveLength(10);
    expect(second).toContain('192.0.2.60</div>');
  });

  it('answers a bad filter with 400, never a 500', async () => {
    const admin = await consoleAdmin(t);
    for (const query of [
      'kind=nope',
      'kind=login%00',
      'from=2026-13-01',
      'from=2026-02-30',
      'to=yesterday',
      'from=2026-02-02&to=2026-02-01',
      'ip=not-an-ip',
      'ip=%00',
      'email=%00',
      `email=${'a'.repeat(300)}`,
      'page=0',
      'kind=login&kind=logout',
    ]) {
      expectCleanRefusal(await admin.browser.get(`/admin/events?${query}`), 400);
    }
    for (const line of corpus('bad-next.txt')) {
      const answer = await admin.browser.get(
        `/admin/events?email=${encodeURIComponent(line)}&ip=${encodeURIComponent(line)}`,
      );
      expect([200, 400], JSON.stringify(line)).toContain(answer.status);
    }
  });
});

describe('limits', () => {
  it('throttles searches per admin: over the limit is a 429 with Retry-After, recorded; another admin is not held', async () => {
    const limited = await t.sibling({ ADMIN_SEARCHES_PER_HOUR: '3' });
    const admin = await consoleAdmin(t);
    const other = await consoleAdmin(t);
    const browser = sameBrowserOn(limited.app, admin.browser);
    browser.agent.set('X-Forwarded-For', admin.ip);
    const otherBrowser = sameBrowserOn(limited.app, other.browser);
    for (let i = 0; i < 3; i++) expect((await browser.get(`/admin/users?q=a${i}`)).status).toBe(200);
    const refused = await browser.get('/admin/events');
    expectCleanRefusal(refused, 429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.text).toContain('searches in the admin console');
    // The refusal is in the audit trail, from the admin's address.
    const recorded = await t.pool.query("SELECT 1 FROM auth_events WHERE event = 'throttled' AND ip = $1", [admin.ip]);
    expect(recorded.rows).toHaveLength(1);
    expect((await otherBrowser.get('/admin/users')).status).toBe(200);
  });

  it('throttles actions per admin: over the limit is a 429 and nothing is done', async () => {
    const limited = await t.sibling({ ADMIN_ACTIONS_PER_HOUR: '2' });
    const admin = await consoleAdmin(t);
    const browser = sameBrowserOn(limited.app, admin.browser);
    const targets = [await signUp(t), await signUp(t), await signUp(t)];
    for (const target of targets.slice(0, 2))
      expect((await confirmAction(browser, target.id, 'deactivate')).status).toBe(303);
    const last = targets[2];
    if (!last) throw new Error('no target');
    const refused = await confirmAction(browser, last.id, 'deactivate');
    expectCleanRefusal(refused, 429);
    expect((await userById(t, last.id))?.is_active).toBe(true);
  });
});
