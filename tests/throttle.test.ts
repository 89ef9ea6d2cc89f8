import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Express } from 'express';
import { type TestApp, startTestApp } from './support/test-app.js';
import { Browser, PASSWORD, signedUpBrowser, signupFields } from './support/browser.js';
import { createPasswordHasher, type PasswordHasher } from '../src/users/passwords.js';

// Empty values mean "unset": the contract's default login limits (5 per account+IP, 100 per IP).
// Signups keep the harness's high limit here, since every test signs up from 127.0.0.1;
// the signup test below runs on an instance with the contract's default of 10.
const CONTRACT_LIMITS = { LOGIN_FAILURES_PER_ACCOUNT: '', LOGIN_FAILURES_PER_IP: '', TRUST_PROXY: '1' };

const hashCalls = { hash: 0, verify: 0, dummy: 0 };
const real = createPasswordHasher(4);
const countingHasher: PasswordHasher = {
  hash: (password) => (hashCalls.hash++, real.hash(password)),
  verify: (password, hash) => (hashCalls.verify++, real.verify(password, hash)),
  verifyDummy: (password) => (hashCalls.dummy++, real.verifyDummy(password)),
};

let t: TestApp;
let ipCounter = 0;
beforeAll(async () => {
  t = await startTestApp(CONTRACT_LIMITS, { passwords: countingHasher });
});
afterAll(async () => {
  await t.close();
});

/** A browser behind the trusted proxy, coming from its own address. */
function browserFrom(app: Express, ip = `198.51.100.${++ipCounter}`) {
  const browser = new Browser(app);
  const login = async (email: string, password: string) => {
    const _csrf = await browser.csrfFrom('/login');
    return browser.agent.post('/login').set('X-Forwarded-For', ip).type('form').send({ _csrf, email, password });
  };
  return { browser, ip, login };
}

const circled = (text: string) =>
  [...text].map((c) => (c >= 'a' && c <= 'z' ? String.fromCodePoint(0x24d0 + c.charCodeAt(0) - 97) : c)).join('');

const expireRateLimits = () => t.pool.query('UPDATE rate_limits SET expire = $1', [Date.now() - 1]);

describe('login throttling', () => {
  it('answers the sixth failure in 15 minutes with 429, Retry-After and when to come back', async () => {
    const { fields } = await signedUpBrowser(t.app);
    const attacker = browserFrom(t.app);
    for (let i = 0; i < 5; i++) expect((await attacker.login(fields.email, 'wrong password')).status).toBe(422);
    const blocked = await attacker.login(fields.email, 'wrong password');
    expect(blocked.status).toBe(429);
    const retryAfter = Number(blocked.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    expect(blocked.text).toMatch(/Try again in \d+ minutes? \(after \d\d:\d\d UTC\)/);
    // Even the right password is not checked while throttled.
    expect((await attacker.login(fields.email, fields.password)).status).toBe(429);
  });

  it('runs no password check at all for a throttled attempt', async () => {
    const { fields } = await signedUpBrowser(t.app);
    const attacker = browserFrom(t.app);
    for (let i = 0; i < 5; i++) await attacker.login(fields.email, 'wrong password');
    const before = { ...hashCalls };
    expect((await attacker.login(fields.email, 'wrong password')).status).toBe(429);
    expect(hashCalls).toEqual(before);
  });

  it('counts an email written in look-alike characters as the same account', async () => {
    const local = `throttle${Date.now().toString(36).replace(/\d/g, 'x')}`;
    const { fields } = await signedUpBrowser(t.app, { email: `${local}@example.com` });
    const attacker = browserFrom(t.app);
    for (let i = 0; i < 3; i++) await attacker.login(fields.email, 'wrong password');
    for (let i = 0; i < 2; i++) await attacker.login(`${circled(local)}@EXAMPLE.com`, 'wrong password');
    expect((await attacker.login(fields.email, 'wrong password')).status).toBe(429);
  });

  it('clears the account count on a successful login', async () => {
    const { fields } = await signedUpBrowser(t.app);
    const user = browserFrom(t.app);
    for (let i = 0; i < 4; i++) expect((await user.login(fields.email, 'typo')).status).toBe(422);
    expect((await user.login(fields.email, fields.password)).status).toBe(303);
    const again = browserFrom(t.app, user.ip);
    for (let i = 0; i < 4; i++) expect((await again.login(fields.email, 'typo')).status).toBe(422);
  });

  it('does not lock the owner out: another address still logs in, and the window ends', async () => {
    const { fields } = await signedUpBrowser(t.app);
    const attacker = browserFrom(t.app);
    for (let i = 0; i < 6; i++) await attacker.login(fields.email, 'wrong password');
    expect((await attacker.login(fields.email, fields.password)).status).toBe(429);

    expect((await browserFrom(t.app).login(fields.email, fields.password)).status).toBe(303);

    await expireRateLimits(); // fifteen minutes pass
    expect((await browserFrom(t.app, attacker.ip).login(fields.email, fields.password)).status).toBe(303);
  });

  it('shares the counts between app instances on one database', async () => {
    const { fields } = await signedUpBrowser(t.app);
    const other = await t.sibling();
    const ip = `203.0.113.${++ipCounter}`;
    for (let i = 0; i < 5; i++) await browserFrom(t.app, ip).login(fields.email, 'wrong password');
    expect((await browserFrom(other.app, ip).login(fields.email, 'wrong password')).status).toBe(429);
  });

  it('stops one address after 100 failures across many accounts', async () => {
    const stuffer = browserFrom(t.app);
    for (let i = 0; i < 100; i++) {
      expect((await stuffer.login(`nobody-${i}-${stuffer.ip}@example.com`, 'hunter22')).status).toBe(422);
    }
    const blocked = await stuffer.login('yet-another@example.com', 'hunter22');
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeLessThanOrEqual(60 * 60);
    const { fields } = await signedUpBrowser(t.app);
    expect((await browserFrom(t.app).login(fields.email, fields.password)).status).toBe(303);
  });

  it('believes no X-Forwarded-For without TRUST_PROXY: rotating it gets no fresh count, and the audit keeps the real address', async () => {
    const direct = await t.sibling({ TRUST_PROXY: '' });
    const { fields } = await signedUpBrowser(direct.app);
    const statuses: number[] = [];
    for (let i = 1; i <= 6; i++) {
      const browser = new Browser(direct.app);
      const _csrf = await browser.csrfFrom('/login');
      const answer = await browser.agent
        .post('/login')
        .set('X-Forwarded-For', `203.0.113.${i}`)
        .set('X-Forwarded-Proto', 'https')
        .type('form')
        .send({ _csrf, email: fields.email, password: 'wrong password' });
      statuses.push(answer.status);
    }
    expect(statuses).toEqual([422, 422, 422, 422, 422, 429]);
    const { rows } = await t.pool.query<{ ip: string | null }>(
      "SELECT e.ip FROM auth_events e JOIN users u ON u.id = e.user_id WHERE u.email = $1 AND e.event = 'login_failed'",
      [fields.email],
    );
    expect(rows).toHaveLength(5);
    for (const row of rows) expect(row.ip).toMatch(/^(?:::ffff:127\.0\.0\.1|127\.0\.0\.1|::1)$/);
  });

  it('stores no email or address in the clear in the rate-limit table', async () => {
    const { fields } = await signedUpBrowser(t.app);
    const attacker = browserFrom(t.app);
    await attacker.login(fields.email, 'wrong password');
    const { rows } = await t.pool.query<{ key: string }>('SELECT key FROM rate_limits');
    expect(rows.length).toBeGreaterThan(0);
    for (const { key } of rows) {
      expect(key).toMatch(/^[a-z_]+:[0-9a-f]{64}$/);
      expect(key).not.toContain(attacker.ip);
    }
  });
});

describe('unknown emails cost what wrong passwords cost', () => {
  it('runs exactly one bcrypt comparison for an unknown email and for a wrong password', async () => {
    const { fields } = await signedUpBrowser(t.app);
    const count = () => hashCalls.verify + hashCalls.dummy;

    let before = count();
    const wrong = await browserFrom(t.app).login(fields.email, 'not the password');
    expect(count() - before).toBe(1);

    before = count();
    const unknown = await browserFrom(t.app).login(`nobody-${Date.now()}@example.com`, 'not the password');
    expect(count() - before).toBe(1);
    expect(hashCalls.dummy).toBeGreaterThan(0);

    expect(unknown.status).toBe(wrong.status);
    const message = (text: string) => /<p class="form-error"[^>]*>([^<]*)<\/p>/.exec(text)?.[1];
    expect(message(unknown.text)).toBe('Invalid email/password combination.');
    expect(message(wrong.text)).toBe(message(unknown.text));
  });
});

describe('signup throttling', () => {
  it('answers the eleventh signup from one address in an hour with 429, and no user is created', async () => {
    const app = (await t.sibling({ SIGNUPS_PER_IP: '' })).app;
    const ip = `192.0.2.${++ipCounter}`;
    const signUpFrom = async (address: string) => {
      const browser = new Browser(app);
      const _csrf = await browser.csrfFrom('/signup');
      return browser.agent
        .post('/signup')
        .set('X-Forwarded-For', address)
        .type('form')
        .send({ _csrf, ...signupFields() });
    };
    for (let i = 0; i < 10; i++) expect((await signUpFrom(ip)).status).toBe(303);
    const before = Number((await t.pool.query('SELECT count(*) FROM users')).rows[0].count);
    const blocked = await signUpFrom(ip);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number((await t.pool.query('SELECT count(*) FROM users')).rows[0].count)).toBe(before);
    expect((await signUpFrom(`192.0.2.${++ipCounter}`)).status).toBe(303);
  });
});

describe('common passwords', () => {
  it.each(['password', 'Password1', '12345678', 'iloveyou', 'qwertyuiop'])(
    'refuses %j with "This password is too common."',
    async (password) => {
      const response = await new Browser(t.app).submit('/signup', '/signup', {
        ...signupFields({ password, confirm: password }),
      });
      expect(response.status).toBe(422);
      expect(response.text).toContain('This password is too common.');
    },
  );

  it('accepts an uncommon passphrase as typed', async () => {
    const { fields } = await signedUpBrowser(t.app, { password: PASSWORD, confirm: PASSWORD });
    expect((await browserFrom(t.app).login(fields.email, PASSWORD)).status).toBe(303);
  });
});
