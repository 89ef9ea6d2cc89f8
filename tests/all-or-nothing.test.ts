import type { Response } from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NEW_PASSWORD, PASSWORD, signupFields, uniqueEmail } from './support/browser.js';
import { isLoggedIn } from './support/pages.js';
import { logIn, signUp, uniqueIp, userById, visitor } from './support/users.js';
import {
  followLink,
  linkIn,
  mailMark,
  mailsAfter,
  openResetLink,
  resetLinkFor,
  waitForMailTo,
} from './support/mail.js';
import { type TestApp, startTestApp } from './support/test-app.js';
import { enrolApp } from './support/two-factor.js';

/**
 * Issue 19, finding 7: a security change that fails half-way must leave everything as it was.
 * The fault is real: a trigger in the database raises in the middle of the change, for the one
 * account under test, and the change must come to an error page, not a success, with nothing of
 * it left behind (not the new password, not an ended session, not its audit row or its mail).
 */

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ TRUST_PROXY: 'loopback' });
});
afterAll(async () => {
  await t.close();
});

type Moment = { table: 'sessions'; on: 'DELETE' } | { table: 'auth_events'; on: 'INSERT'; event: string };

/**
 * Runs `act` while the database refuses `moment` for the user (a trigger that raises), then
 * takes the trigger away again.
 */
async function withFault<T>(userId: string, moment: Moment, act: () => Promise<T>): Promise<T> {
  const row = moment.on === 'DELETE' ? 'OLD' : 'NEW';
  const also = moment.table === 'auth_events' ? ` AND NEW.event = '${moment.event}'` : '';
  await t.pool.query(`
    CREATE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF ${row}.user_id = ${Number(userId)}${also} THEN RAISE EXCEPTION 'injected fault'; END IF;
      RETURN ${row};
    END $$`);
  await t.pool.query(
    `CREATE TRIGGER injected_fault BEFORE ${moment.on} ON ${moment.table} FOR EACH ROW EXECUTE FUNCTION injected_fault()`,
  );
  try {
    return await act();
  } finally {
    await t.pool.query(`DROP TRIGGER injected_fault ON ${moment.table}`);
    await t.pool.query('DROP FUNCTION injected_fault()');
  }
}

/** The error page: a 5xx page for people, with no success on it and no server insides. */
function expectErrorPage(response: Response): void {
  expect(response.status).toBeGreaterThanOrEqual(500);
  expect(response.headers['content-type']).toMatch(/^text\/html/);
  expect(response.headers['location']).toBeUndefined();
  expect(response.text).not.toMatch(/injected fault|node_modules|\.(?:ts|js):\d+/);
}

const eventsOf = async (userId: string, event: string) =>
  Number(
    (
      await t.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM auth_events WHERE user_id = $1 AND event = $2',
        [userId, event],
      )
    ).rows[0]?.n,
  );

/** An owner logged in in their own browser, and the same account open in a second one (whoever had the password). */
async function ownerAndIntruder() {
  const owner = await signUp(t);
  const intruder = visitor(t.app, uniqueIp());
  expect((await logIn(intruder, owner.email)).status).toBe(303);
  return { owner, intruder };
}

describe('a sign-up that fails half-way (issue 20: a flow is one transaction)', () => {
  it('leaves no account and no mail, and the address can sign up afterwards', async () => {
    const email = uniqueEmail('half-way');
    const mark = await mailMark(t);
    // The fault comes after the row is written and before the verification mail is queued.
    await t.pool.query(`
      CREATE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.event = 'signup' THEN RAISE EXCEPTION 'injected fault'; END IF;
        RETURN NEW;
      END $$`);
    await t.pool.query(
      'CREATE TRIGGER injected_fault BEFORE INSERT ON auth_events FOR EACH ROW EXECUTE FUNCTION injected_fault()',
    );
    let answer: Response;
    try {
      answer = await visitor(t.app).submit('/signup', '/signup', { ...signupFields({ email }) });
    } finally {
      await t.pool.query('DROP TRIGGER injected_fault ON auth_events');
      await t.pool.query('DROP FUNCTION injected_fault()');
    }
    expectErrorPage(answer);
    const rows = await t.pool.query('SELECT id FROM users WHERE lower(email) = lower($1)', [email]);
    expect(rows.rowCount).toBe(0);
    expect((await mailsAfter(t, mark)).filter((mail) => mail.to === email)).toEqual([]);

    const again = await visitor(t.app).submit('/signup', '/signup', { ...signupFields({ email }) });
    expect(again.status).toBe(303);
    expect((await waitForMailTo(t, email, 'verify-email', mark)).to).toBe(email);
  });
});

describe('a password change that fails half-way', () => {
  it('leaves the old password working and the other session alive, with no audit row and no mail', async () => {
    const { owner, intruder } = await ownerAndIntruder();
    const mark = await mailMark(t);
    const answer = await withFault(owner.id, { table: 'sessions', on: 'DELETE' }, () =>
      owner.browser.submit('/account/password', '/account/password', {
        current: PASSWORD,
        password: NEW_PASSWORD,
        confirm: NEW_PASSWORD,
      }),
    );
    expectErrorPage(answer);
    expect((await logIn(visitor(t.app), owner.email, PASSWORD)).status).toBe(303);
    expect((await logIn(visitor(t.app), owner.email, NEW_PASSWORD)).status).toBe(422);
    expect(await isLoggedIn(intruder)).toBe(true);
    expect(await isLoggedIn(owner.browser)).toBe(true);
    expect(await eventsOf(owner.id, 'password_changed')).toBe(0);
    expect((await mailsAfter(t, mark)).filter((mail) => mail.template === 'password-changed')).toEqual([]);

    // Without the fault the same change goes through whole.
    const again = await owner.browser.submit('/account/password', '/account/password', {
      current: PASSWORD,
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    expect(again.status).toBe(303);
    expect(await isLoggedIn(intruder)).toBe(false);
    await waitForMailTo(t, owner.email, 'password-changed', mark);
  });
});

describe('a password reset that fails half-way', () => {
  it('leaves the old password working, the other session alive, and the link still usable', async () => {
    const { owner, intruder } = await ownerAndIntruder();
    const phone = visitor(t.app, uniqueIp());
    const link = await resetLinkFor(t, owner.email, phone);
    await openResetLink(phone, link);
    const mark = await mailMark(t);
    const answer = await withFault(owner.id, { table: 'sessions', on: 'DELETE' }, () =>
      phone.submit('/password/reset', '/password/reset', { password: NEW_PASSWORD, confirm: NEW_PASSWORD }),
    );
    expectErrorPage(answer);
    expect((await logIn(visitor(t.app), owner.email, PASSWORD)).status).toBe(303);
    expect(await isLoggedIn(intruder)).toBe(true);
    expect(await eventsOf(owner.id, 'password_reset')).toBe(0);
    expect((await mailsAfter(t, mark)).filter((mail) => mail.template === 'password-changed')).toEqual([]);

    // The link was not used up: it works once the fault is gone.
    const retry = visitor(t.app, uniqueIp());
    await openResetLink(retry, link);
    expect(
      (await retry.submit('/password/reset', '/password/reset', { password: NEW_PASSWORD, confirm: NEW_PASSWORD }))
        .status,
    ).toBe(303);
    expect(await isLoggedIn(intruder)).toBe(false);
  });
});

describe('other security changes that fail half-way', () => {
  it('"Sign out everywhere else": the other session stays', async () => {
    const { owner, intruder } = await ownerAndIntruder();
    const answer = await withFault(owner.id, { table: 'auth_events', on: 'INSERT', event: 'sessions_ended' }, () =>
      owner.browser.submit('/account/sessions', '/account/sessions/end-others', {}),
    );
    expectErrorPage(answer);
    expect(await isLoggedIn(intruder)).toBe(true);
  });

  it('deleting the account: the account and its sessions stay', async () => {
    const { owner, intruder } = await ownerAndIntruder();
    const answer = await withFault(owner.id, { table: 'auth_events', on: 'INSERT', event: 'account_deleted' }, () =>
      owner.browser.submit('/account/delete', '/account/delete', { password: PASSWORD, confirm: 'on' }),
    );
    expectErrorPage(answer);
    expect(await userById(t, owner.id)).toBeDefined();
    expect(await isLoggedIn(owner.browser)).toBe(true);
    expect(await isLoggedIn(intruder)).toBe(true);
  });

  it('turning the authenticator app off: it stays on, with its recovery codes, and no notice is sent', async () => {
    const owner = await signUp(t);
    const { codes } = await enrolApp(owner.browser);
    const mark = await mailMark(t);
    const answer = await withFault(owner.id, { table: 'auth_events', on: 'INSERT', event: 'totp_disabled' }, () =>
      owner.browser.submit('/account/security', '/account/two-factor/totp/disable', { password: PASSWORD }),
    );
    expectErrorPage(answer);
    const login = await logIn(visitor(t.app), owner.email);
    expect(login.headers['location']).toBe('/login/two-factor');
    const { rows } = await t.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM recovery_codes WHERE user_id = $1',
      [owner.id],
    );
    expect(rows[0]?.n).toBe(codes.length);
    expect((await mailsAfter(t, mark)).filter((mail) => mail.template === 'security-change')).toEqual([]);
  });

  it('new recovery codes: the old ones keep working', async () => {
    const owner = await signUp(t);
    const { codes } = await enrolApp(owner.browser);
    const answer = await withFault(
      owner.id,
      { table: 'auth_events', on: 'INSERT', event: 'recovery_codes_generated' },
      () => owner.browser.submit('/account/security', '/account/two-factor/recovery-codes', { password: PASSWORD }),
    );
    expectErrorPage(answer);
    const browser = visitor(t.app, uniqueIp());
    await logIn(browser, owner.email);
    expect(
      (await browser.submit('/login/recovery-code', '/login/recovery-code', { recovery_code: codes[0]! })).status,
    ).toBe(303);
  });

  it('asking to move to another address: nothing is pending and no link is mailed', async () => {
    const owner = await signUp(t);
    const mark = await mailMark(t);
    const target = uniqueEmail('moved');
    const answer = await withFault(
      owner.id,
      { table: 'auth_events', on: 'INSERT', event: 'email_change_requested' },
      () => owner.browser.submit('/account/email', '/account/email', { email: target, password: PASSWORD }),
    );
    expectErrorPage(answer);
    expect((await userById(t, owner.id))?.pending_email ?? null).toBeNull();
    expect((await mailsAfter(t, mark)).filter((mail) => mail.to === target || mail.to === owner.email)).toEqual([]);
  });

  it('confirming the move: the address stays, and the link still works afterwards', async () => {
    const owner = await signUp(t);
    const mark = await mailMark(t);
    const target = uniqueEmail('moved');
    expect(
      (await owner.browser.submit('/account/email', '/account/email', { email: target, password: PASSWORD })).status,
    ).toBe(303);
    const link = linkIn(await waitForMailTo(t, target, 'verify-email', mark), '/email/verify');
    const answer = await withFault(owner.id, { table: 'auth_events', on: 'INSERT', event: 'email_changed' }, () =>
      followLink(visitor(t.app), link),
    );
    expectErrorPage(answer);
    expect((await userById(t, owner.id))?.email).toBe(owner.email);
    expect((await followLink(visitor(t.app), link)).status).toBe(303);
    expect((await userById(t, owner.id))?.email).toBe(target);
  });

  it("the old address's cancel link: the change stays pending, the sessions stay, and the link still works", async () => {
    const { owner, intruder } = await ownerAndIntruder();
    const mark = await mailMark(t);
    const target = uniqueEmail('attacker');
    expect(
      (await intruder.submit('/account/email', '/account/email', { email: target, password: PASSWORD })).status,
    ).toBe(303);
    const cancel = linkIn(await waitForMailTo(t, owner.email, 'email-change-requested', mark), '/email/change/cancel');
    const answer = await withFault(owner.id, { table: 'sessions', on: 'DELETE' }, () =>
      followLink(visitor(t.app), cancel),
    );
    expectErrorPage(answer);
    expect((await userById(t, owner.id))?.pending_email).toBe(target);
    expect(await isLoggedIn(intruder)).toBe(true);
    expect((await followLink(visitor(t.app), cancel)).status).toBe(200);
    expect((await userById(t, owner.id))?.pending_email ?? null).toBeNull();
    expect(await isLoggedIn(intruder)).toBe(false);
  });
});
