import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, PASSWORD } from './support/browser.js';
import { type Lies, SoftwareAuthenticator } from './support/authenticator.js';
import { ORIGIN, RP_ID, addPasskey, registrationOptions, signInOptions, signInWith } from './support/passkeys.js';
import { expectCleanRefusal, fieldError, isLoggedIn } from './support/pages.js';
import { sessionCount, signUp, uniqueIp, visitor } from './support/users.js';
import { mailMark, waitForMailTo } from './support/mail.js';
import { type TestApp, startTestApp } from './support/test-app.js';
import { codesOnPage, enrolApp, toSecondStep } from './support/two-factor.js';

/**
 * Passkeys (issue 14): real registration and sign-in answers from a software authenticator
 * (an ES256 key pair, authenticator data built by hand), over HTTP. Also what an attacker
 * would send: another origin, another RP id, no user verification, a replayed answer,
 * another user's passkey, a tampered signature.
 */

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ TRUST_PROXY: 'loopback' });
});
afterAll(async () => {
  await t.close();
});

/** A user with one passkey (made by the returned authenticator), logged in in `browser`. */
async function userWithPasskey() {
  const user = await signUp(t);
  const authenticator = new SoftwareAuthenticator(ORIGIN, RP_ID);
  const added = await addPasskey(user.browser, authenticator);
  expect([200, 303]).toContain(added.status);
  return { ...user, authenticator };
}

describe('adding a passkey', () => {
  it('offers options for a resident, user-verified passkey with no attestation, under a random user handle', async () => {
    const user = await signUp(t);
    const options = await registrationOptions(user.browser);
    expect(options.rp.id).toBe(RP_ID);
    expect(options.user.name).toBe(user.email);
    const handle = Buffer.from(options.user.id, 'base64url');
    expect(handle).toHaveLength(32);
    // Random bytes: neither the user's id nor their address.
    expect(handle.toString('utf8')).not.toContain(user.email);
    expect(handle.equals(Buffer.from(String(user.id)))).toBe(false);
    expect(Buffer.from(options.challenge, 'base64url').length).toBeGreaterThanOrEqual(32);
    expect(options.authenticatorSelection?.residentKey).toBe('required');
    expect(options.authenticatorSelection?.userVerification).toBe('required');
    expect(options.attestation ?? 'none').toBe('none');
    expect(options.timeout).toBe(5 * 60 * 1000);
    // The same handle every time, and no other user has it.
    expect((await registrationOptions(user.browser)).user.id).toBe(options.user.id);
    const other = await signUp(t);
    expect((await registrationOptions(other.browser)).user.id).not.toBe(options.user.id);
  });

  it('stores it with its details, shows recovery codes with a first factor, mails a notice, writes the audit', async () => {
    const user = await signUp(t);
    const authenticator = new SoftwareAuthenticator(ORIGIN, RP_ID);
    const mark = await mailMark(t);
    const added = await addPasskey(user.browser, authenticator, { name: 'Phone' });
    expect(added.status).toBe(200);
    expect(added.text).toContain('Your passkey &quot;Phone&quot; is added');
    expect(codesOnPage(added.text)).toHaveLength(10);
    const { rows } = await t.pool.query<{
      credential_id: string;
      sign_count: string;
      transports: string[];
      device_type: string;
      backed_up: boolean;
      aaguid: string;
      name: string;
      public_key: Buffer;
    }>('SELECT * FROM passkeys WHERE user_id = $1', [user.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      credential_id: authenticator.credentialIds[0],
      transports: ['internal'],
      device_type: 'singleDevice',
      backed_up: false,
      aaguid: '00000000-0000-0000-0000-000000000000',
      name: 'Phone',
    });
    expect(rows[0]?.public_key.length).toBeGreaterThan(60);
    const notice = await waitForMailTo(t, user.email, 'security-change', mark);
    expect(notice.text).toMatch(/A passkey was added/);
    const events = await t.pool.query<{ event: string }>(
      "SELECT event FROM auth_events WHERE user_id = $1 AND event = 'passkey_added'",
      [user.id],
    );
    expect(events.rows).toHaveLength(1);
    const page = await user.browser.get('/account/passkeys');
    expect(page.text).toContain('Phone');
    expect(page.text).toMatch(/not used yet/);
    // A second one: its options exclude the first; no new recovery codes.
    const options = await registrationOptions(user.browser);
    expect(options.excludeCredentials?.map((item) => item.id)).toEqual(authenticator.credentialIds);
    const second = await addPasskey(user.browser, authenticator, { name: 'Laptop' });
    expect(second.status).toBe(303);
    expect(second.headers['location']).toBe('/account/passkeys');
  });

  it('needs the current password: a wrong one is a 422 and stores nothing', async () => {
    const user = await signUp(t);
    const answer = await addPasskey(user.browser, new SoftwareAuthenticator(ORIGIN, RP_ID), {
      password: 'not it at all',
    });
    expect(answer.status).toBe(422);
    expect(fieldError(answer.text, 'password')).toBe('That is not your current password.');
    const { rows } = await t.pool.query('SELECT 1 FROM passkeys WHERE user_id = $1', [user.id]);
    expect(rows).toEqual([]);
  });

  it.each<[string, Lies]>([
    ['another origin', { origin: 'https://evil.example' }],
    ['another RP id', { rpId: 'evil.example' }],
    ['no user verification', { userVerified: false }],
    ['a challenge this session never issued', { challenge: Buffer.alloc(32, 7).toString('base64url') }],
  ])('refuses an answer with %s: 422, nothing stored', async (_label, lies) => {
    const user = await signUp(t);
    const answer = await addPasskey(user.browser, new SoftwareAuthenticator(ORIGIN, RP_ID), { lies });
    expect(answer.status).toBe(422);
    expect(answer.text).toContain('The passkey could not be added');
    const { rows } = await t.pool.query('SELECT 1 FROM passkeys WHERE user_id = $1', [user.id]);
    expect(rows).toEqual([]);
  });

  it('uses a registration challenge once: the same answer again is refused', async () => {
    const user = await signUp(t);
    const authenticator = new SoftwareAuthenticator(ORIGIN, RP_ID);
    const options = await registrationOptions(user.browser);
    const credential = JSON.stringify(authenticator.register(options));
    const first = await user.browser.submit('/account/passkeys', '/account/passkeys', {
      name: 'A',
      password: PASSWORD,
      credential,
    });
    expect(first.status).toBe(200);
    await t.pool.query('DELETE FROM passkeys WHERE user_id = $1', [user.id]);
    const again = await user.browser.submit('/account/passkeys', '/account/passkeys', {
      name: 'B',
      password: PASSWORD,
      credential,
    });
    expect(again.status).toBe(422);
  });

  it('needs a login, and garbage credentials are a clean 4xx', async () => {
    const anonymous = new Browser(t.app);
    expect((await anonymous.get('/account/passkeys')).headers['location']).toBe('/login?next=%2Faccount%2Fpasskeys');
    const user = await signUp(t);
    for (const credential of [
      '',
      'not json',
      '{}',
      JSON.stringify({ id: 'x', rawId: 'x', type: 'public-key', response: {} }),
      '[]',
    ]) {
      const answer = await user.browser.submit('/account/passkeys', '/account/passkeys', {
        name: 'X',
        password: PASSWORD,
        credential,
      });
      expectCleanRefusal(answer, 422);
    }
  });
});

describe('signing in with a passkey', () => {
  it('is a whole login, with no session row before it: a new session id, next honoured, the use recorded', async () => {
    const user = await userWithPasskey();
    await enrolApp(user.browser); // even with an authenticator app, a passkey needs no second step
    const browser = visitor(t.app);
    const before = await sessionCount(t);
    const { options, csrf, answer } = await signInOptions(browser);
    expect(options.rpId).toBe(RP_ID);
    expect(options.allowCredentials ?? []).toEqual([]); // discoverable: the browser offers the site's passkeys
    expect(Buffer.from(options.challenge, 'base64url').length).toBeGreaterThanOrEqual(32);
    const cookie = String(answer.headers['set-cookie']);
    expect(cookie).toMatch(
      /gatehouse\.webauthn=[^;]+; Max-Age=300; Path=\/login; Expires=[^;]+; HttpOnly; SameSite=Strict/,
    );
    expect(cookie).not.toContain(options.challenge);
    expect(await sessionCount(t)).toBe(before);
    expect(browser.sessionCookie()).toBeUndefined();

    const mark = await mailMark(t);
    const done = await signInWith(browser, csrf, user.authenticator.authenticate(options), '/account/sessions');
    expect(done.status).toBe(303);
    expect(done.headers['location']).toBe('/account/sessions');
    expect(await isLoggedIn(browser)).toBe(true);
    const events = await t.pool.query<{ detail: string }>(
      "SELECT detail FROM auth_events WHERE user_id = $1 AND event = 'login' ORDER BY id DESC LIMIT 1",
      [user.id],
    );
    expect(events.rows[0]?.detail).toBe('passkey');
    const used = await t.pool.query<{ sign_count: string; last_used_at: Date | null }>(
      'SELECT sign_count::text, last_used_at FROM passkeys WHERE user_id = $1',
      [user.id],
    );
    expect(used.rows[0]?.sign_count).toBe('1');
    expect(used.rows[0]?.last_used_at).toBeInstanceOf(Date);
    await waitForMailTo(t, user.email, 'new-sign-in', mark);
  });

  it('refuses a replayed answer: the same answer sent again logs nobody in', async () => {
    const user = await userWithPasskey();
    const browser = visitor(t.app);
    const { options, csrf } = await signInOptions(browser);
    const credential = user.authenticator.authenticate(options);
    expect((await signInWith(browser, csrf, credential)).status).toBe(303);
    // Another browser (or the same one, later) replays it.
    const thief = visitor(t.app);
    const thiefCsrf = (await signInOptions(thief)).csrf;
    const replay = await signInWith(thief, thiefCsrf, credential);
    expect(replay.status).toBe(422);
    expect(await isLoggedIn(thief)).toBe(false);
    const { rows } = await t.pool.query(
      "SELECT detail FROM auth_events WHERE event = 'passkey_failed' AND user_id = $1",
      [user.id],
    );
    expect(rows.length).toBeGreaterThan(0);
  });

  it.each<[string, Lies]>([
    ['another origin', { origin: 'https://evil.example' }],
    ['another RP id', { rpId: 'evil.example' }],
    ['no user verification', { userVerified: false }],
    ['a tampered signature', { badSignature: true }],
    ['a challenge this browser was never given', { challenge: Buffer.alloc(32, 9).toString('base64url') }],
  ])('refuses an answer with %s: 422, nobody logged in, the counter unchanged', async (_label, lies) => {
    const user = await userWithPasskey();
    const browser = visitor(t.app);
    const { options, csrf } = await signInOptions(browser);
    const answer = await signInWith(browser, csrf, user.authenticator.authenticate(options, undefined, lies));
    expect(answer.status).toBe(422);
    expect(answer.text).toContain('That passkey didn&#39;t work');
    expect(await isLoggedIn(browser)).toBe(false);
    const { rows } = await t.pool.query<{ last_used_at: Date | null }>(
      'SELECT last_used_at FROM passkeys WHERE user_id = $1',
      [user.id],
    );
    expect(rows[0]?.last_used_at).toBeNull();
  });

  it("refuses another user's passkey presented under this user's handle, and an unknown credential", async () => {
    const victim = await userWithPasskey();
    const attacker = await userWithPasskey();
    const browser = visitor(t.app);
    const { options, csrf } = await signInOptions(browser);
    const victimHandle = (await registrationOptions(victim.browser)).user.id;
    // The attacker's own passkey, but claiming to be the victim's user.
    const forged = attacker.authenticator.authenticate(options, undefined, { userHandle: victimHandle });
    expect((await signInWith(browser, csrf, forged)).status).toBe(422);
    expect(await isLoggedIn(browser)).toBe(false);
    const stranger = new SoftwareAuthenticator(ORIGIN, RP_ID);
    stranger.register({ challenge: 'x', rp: { id: RP_ID }, user: { id: victimHandle } });
    const again = await signInOptions(browser);
    expect((await signInWith(browser, again.csrf, stranger.authenticate(again.options))).status).toBe(422);
  });

  it('refuses an answer to a challenge fetched by another browser', async () => {
    const user = await userWithPasskey();
    const fetched = visitor(t.app);
    const { options } = await signInOptions(fetched);
    const other = visitor(t.app);
    const { csrf } = await signInOptions(other);
    expect((await signInWith(other, csrf, user.authenticator.authenticate(options))).status).toBe(422);
    expect(await isLoggedIn(other)).toBe(false);
  });

  it('keeps a challenge per ceremony: a second request for options (the button after autofill) does not spoil the first', async () => {
    const user = await userWithPasskey();
    const browser = visitor(t.app);
    const first = await signInOptions(browser);
    const second = await signInOptions(browser);
    expect(second.options.challenge).not.toBe(first.options.challenge);
    expect((await signInWith(browser, first.csrf, user.authenticator.authenticate(first.options))).status).toBe(303);
  });

  it('counts failed answers like wrong passwords: over the limit, 429', async () => {
    const strict = await t.sibling({ LOGIN_FAILURES_PER_IP: '3' });
    const user = await userWithPasskey();
    const ip = uniqueIp();
    const browser = new Browser(strict.app);
    browser.agent.set('X-Forwarded-For', ip);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      const { options, csrf } = await signInOptions(browser);
      statuses.push(
        (await signInWith(browser, csrf, user.authenticator.authenticate(options, undefined, { badSignature: true })))
          .status,
      );
    }
    expect(statuses).toEqual([422, 422, 422, 429]);
  });

  it('hides nothing it should not: the login page offers the passkey button and autofill', async () => {
    const page = await new Browser(t.app).get('/login');
    expect(page.text).toMatch(
      /<form method="post" action="\/login\/passkey"[^>]*data-passkey-sign-in data-passkey-autofill/,
    );
    expect(page.text).toContain('Sign in with a passkey');
    expect(page.text).toContain('src="/static/vendor/simplewebauthn-browser.umd.min.js"');
    expect(page.text).toContain('src="/static/passkeys.js"');
    expect(page.text).not.toMatch(/<script>[^<]/); // no inline script
    const vendor = await new Browser(t.app).get('/static/vendor/simplewebauthn-browser.umd.min.js');
    expect(vendor.status).toBe(200);
    expect(vendor.text).toContain('SimpleWebAuthnBrowser');
  });
});

describe('a passkey as the second factor', () => {
  it("completes a password login on /login/two-factor, and must be that user's", async () => {
    const user = await userWithPasskey();
    const browser = visitor(t.app);
    await toSecondStep(browser, user.email, PASSWORD, { next: '/account/security' });
    const page = await browser.get('/login/two-factor');
    expect(page.text).toContain('Use a passkey');
    const someoneElse = await userWithPasskey();
    const wrong = await signInOptions(browser, '/login/two-factor');
    // The options list this user's passkeys only.
    expect(wrong.options.allowCredentials?.map((item) => item.id)).toEqual(user.authenticator.credentialIds);
    const theirs = someoneElse.authenticator.authenticate({ ...wrong.options, allowCredentials: [] });
    expect((await signInWith(browser, wrong.csrf, theirs)).status).toBe(422);
    expect(await isLoggedIn(browser)).toBe(false);

    const right = await signInOptions(browser, '/login/two-factor');
    const done = await signInWith(browser, right.csrf, user.authenticator.authenticate(right.options));
    expect(done.status).toBe(303);
    expect(done.headers['location']).toBe('/account/security');
    const events = await t.pool.query<{ detail: string }>(
      "SELECT detail FROM auth_events WHERE user_id = $1 AND event = 'login' ORDER BY id DESC LIMIT 1",
      [user.id],
    );
    expect(events.rows[0]?.detail).toBe('password + passkey');
  });
});

describe('a passkey and the authenticator app together', () => {
  it('turning the app off keeps the recovery codes while a passkey remains a second factor', async () => {
    const user = await userWithPasskey();
    const { codes } = await enrolApp(user.browser);
    const off = await user.browser.submit('/account/security', '/account/two-factor/totp/disable', {
      password: PASSWORD,
    });
    expect(off.status).toBe(303);
    expect(off.headers['location']).toBe('/account/security');
    expect((await t.pool.query('SELECT 1 FROM user_totp WHERE user_id = $1', [user.id])).rowCount).toBe(0);
    expect((await t.pool.query('SELECT 1 FROM recovery_codes WHERE user_id = $1', [user.id])).rowCount).toBe(10);
    // The password still leads to the second step (the passkey), where a recovery code still works.
    const browser = visitor(t.app);
    await toSecondStep(browser, user.email);
    const recovered = await browser.submit('/login/recovery-code', '/login/recovery-code', {
      recovery_code: codes[0] ?? '',
    });
    expect(recovered.status).toBe(303);
    expect(await isLoggedIn(browser)).toBe(true);
  });
});

describe('removing a passkey', () => {
  it('needs the password; mails a notice; with no factor left, the recovery codes go', async () => {
    const user = await userWithPasskey();
    const { rows } = await t.pool.query<{ id: string }>('SELECT id::text AS id FROM passkeys WHERE user_id = $1', [
      user.id,
    ]);
    const id = rows[0]?.id ?? '';
    const wrong = await user.browser.submit('/account/passkeys', '/account/passkeys/remove', {
      id,
      password: 'nope nope',
    });
    expect(wrong.status).toBe(422);
    expect(fieldError(wrong.text, `remove-password-${id}`)).toBe('That is not your current password.');
    const mark = await mailMark(t);
    const removed = await user.browser.submit('/account/passkeys', '/account/passkeys/remove', {
      id,
      password: PASSWORD,
    });
    expect(removed.status).toBe(303);
    expect((await t.pool.query('SELECT 1 FROM passkeys WHERE user_id = $1', [user.id])).rowCount).toBe(0);
    expect((await t.pool.query('SELECT 1 FROM recovery_codes WHERE user_id = $1', [user.id])).rowCount).toBe(0);
    const notice = await waitForMailTo(t, user.email, 'security-change', mark);
    expect(notice.text).toMatch(/A passkey was removed/);
    const removals = await t.pool.query("SELECT 1 FROM auth_events WHERE user_id = $1 AND event = 'passkey_removed'", [
      user.id,
    ]);
    expect(removals.rowCount).toBe(1);
    // Another user's passkey id matches nothing.
    const other = await userWithPasskey();
    const theirs = (
      await t.pool.query<{ id: string }>('SELECT id::text AS id FROM passkeys WHERE user_id = $1', [other.id])
    ).rows[0]?.id;
    const answer = await user.browser.submit('/account/passkeys', '/account/passkeys/remove', {
      id: theirs ?? '',
      password: PASSWORD,
    });
    expect(answer.status).toBe(303);
    expect((await t.pool.query('SELECT 1 FROM passkeys WHERE user_id = $1', [other.id])).rowCount).toBe(1);
  });

  it('goes with the account when the account is deleted', async () => {
    const user = await userWithPasskey();
    const deleted = await user.browser.submit('/account/delete', '/account/delete', {
      password: PASSWORD,
      confirm: '1',
    });
    expect(deleted.status).toBe(303);
    expect((await t.pool.query('SELECT 1 FROM passkeys WHERE user_id = $1', [user.id])).rowCount).toBe(0);
  });
});

describe('on an IP address', () => {
  it('hides the passkey parts, and refuses their options', async () => {
    const onIp = await t.sibling({ PUBLIC_URL: 'http://127.0.0.1:3000' });
    const browser = new Browser(onIp.app);
    const page = await browser.get('/login');
    expect(page.text).not.toContain('Sign in with a passkey');
    expect(page.text).not.toContain('passkeys.js');
    const csrf = await browser.csrfFrom('/login');
    const answer = await browser.agent.post('/login/passkey/options').type('form').send({ _csrf: csrf });
    expectCleanRefusal(answer, 409);
  });
});
