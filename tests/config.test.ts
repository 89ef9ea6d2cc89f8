import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parseEnv } from 'node:util';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Config, ConfigError, parseConfig } from '../src/config.js';
import { sessionSecrets } from '../src/http/session-secret.js';
import { startTestApp } from './support/test-app.js';
import request from 'supertest';
import { Browser, signedUpBrowser, signupFields } from './support/browser.js';
import {
  MIGRATE,
  ROOT,
  type Run,
  SERVER,
  cleanUpProcesses,
  freePort,
  killAll,
  run,
  tempDir,
  waitForHealthy,
  within,
} from './support/processes.js';

const LONG_SECRET = 'a-production-secret-of-forty-characters!';

/** parseConfig's error for `env`, or a failure when it does not throw a ConfigError. */
function configError(env: Record<string, string>): ConfigError {
  try {
    parseConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw new Error(`expected a ConfigError, got ${String(error)}`, { cause: error });
  }
  throw new Error(`expected ${JSON.stringify(env)} to be rejected`);
}

function expectOneLineNaming(message: string, key: string): void {
  expect(message.trim().split('\n')).toHaveLength(1);
  expect(message).toMatch(new RegExp(`\\b${key}\\b`));
  expect(message).not.toMatch(/^\s+at /m);
}

describe('parseConfig', () => {
  it('falls back to the documented defaults when nothing is set', () => {
    const config = parseConfig({});
    expect(config.port).toBe(3000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.databaseUrl).toBeUndefined();
    expect(config.dataDir).toBe(path.resolve('./data'));
    expect(config.sessionSecrets).toEqual([]);
    expect(config.bcryptCost).toBe(12);
    expect(config.loginFailuresPerAccount).toBe(5);
    expect(config.loginFailuresPerIp).toBe(100);
    expect(config.signupsPerIp).toBe(10);
    expect(config.trustProxy).toBe(false);
    expect(config.isProduction).toBe(false);
  });

  it('treats a key left empty (as in a copied .env.example) as not set', () => {
    const config = parseConfig({ PORT: '', HOST: '', DATABASE_URL: '', BCRYPT_COST: '', SIGNUPS_PER_IP: '' });
    expect(config.port).toBe(3000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.databaseUrl).toBeUndefined();
    expect(config.bcryptCost).toBe(12);
    expect(config.signupsPerIp).toBe(10);
  });

  it('uses the values it is given', () => {
    const config = parseConfig({
      PORT: '8080',
      HOST: '0.0.0.0',
      DATABASE_URL: 'postgres://app:pw@db.internal:5433/gatehouse',
      DATA_DIR: '/var/lib/gatehouse',
      BCRYPT_COST: '11',
      LOGIN_FAILURES_PER_ACCOUNT: '7',
      LOGIN_FAILURES_PER_IP: '70',
      SIGNUPS_PER_IP: '3',
    });
    expect(config.port).toBe(8080);
    expect(config.host).toBe('0.0.0.0');
    expect(config.databaseUrl).toBe('postgres://app:pw@db.internal:5433/gatehouse');
    expect(config.dataDir).toBe('/var/lib/gatehouse');
    expect(config.bcryptCost).toBe(11);
    expect(config.loginFailuresPerAccount).toBe(7);
    expect(config.loginFailuresPerIp).toBe(70);
    expect(config.signupsPerIp).toBe(3);
  });

  it('accepts every value in .env.example, which lists every key of the contract', () => {
    const example = parseEnv(readFileSync(path.join(ROOT, '.env.example'), 'utf8'));
    const listed = readFileSync(path.join(ROOT, '.env.example'), 'utf8');
    for (const key of [
      'PORT',
      'HOST',
      'DATABASE_URL',
      'DATA_DIR',
      'SESSION_SECRET',
      'BCRYPT_COST',
      'TRUST_PROXY',
      'LOGIN_FAILURES_PER_ACCOUNT',
      'LOGIN_FAILURES_PER_IP',
      'SIGNUPS_PER_IP',
      'SMTP_URL',
      'MAIL_FROM',
      'MAIL_TRANSPORT',
      'PUBLIC_URL',
    ]) {
      expect(listed, `.env.example mentions ${key}`).toMatch(new RegExp(`^#? ?${key}=`, 'm'));
    }
    const config = parseConfig(example);
    expect(config.port).toBe(3000);
    expect(config.bcryptCost).toBe(12);
  });

  it('accepts both postgres:// and postgresql:// database URLs', () => {
    expect(parseConfig({ DATABASE_URL: 'postgres://localhost/app' }).databaseUrl).toBe('postgres://localhost/app');
    expect(parseConfig({ DATABASE_URL: 'postgresql://localhost/app' }).databaseUrl).toBe('postgresql://localhost/app');
  });

  it.each(['abc', '80a', '-1', '3.5', '70000'])('rejects PORT=%s with one line naming PORT', (value) => {
    expectOneLineNaming(configError({ PORT: value }).message, 'PORT');
  });

  it.each(['not a url', 'mysql://x/y', 'nonsense', 'http://db.example/app'])(
    'rejects DATABASE_URL=%s with one line naming DATABASE_URL',
    (value) => {
      expectOneLineNaming(configError({ DATABASE_URL: value }).message, 'DATABASE_URL');
    },
  );

  it('does not echo a malformed DATABASE_URL, which may hold a password', () => {
    const message = configError({ DATABASE_URL: 'mysql://app:s3cret-pw@db.example/app' }).message;
    expectOneLineNaming(message, 'DATABASE_URL');
    expect(message).not.toContain('s3cret-pw');
  });

  it('rejects a non-numeric BCRYPT_COST with one line naming BCRYPT_COST', () => {
    expectOneLineNaming(configError({ BCRYPT_COST: 'abc' }).message, 'BCRYPT_COST');
  });

  it.each(['LOGIN_FAILURES_PER_ACCOUNT', 'LOGIN_FAILURES_PER_IP', 'SIGNUPS_PER_IP'])(
    'rejects a non-numeric %s with one line naming it',
    (key) => {
      expectOneLineNaming(configError({ [key]: 'lots' }).message, key);
    },
  );

  it('allows a BCRYPT_COST as low as 4 outside production, so tests stay fast', () => {
    expect(parseConfig({ BCRYPT_COST: '4' }).bcryptCost).toBe(4);
    expect(parseConfig({ NODE_ENV: 'test', BCRYPT_COST: '4' }).bcryptCost).toBe(4);
    expect(parseConfig({ NODE_ENV: 'development', BCRYPT_COST: '4' }).bcryptCost).toBe(4);
  });

  describe('in production', () => {
    const production = (env: Record<string, string>) => ({
      NODE_ENV: 'production',
      SMTP_URL: 'smtp://mail.example:587',
      PUBLIC_URL: 'https://accounts.example.com',
      ...env,
    });

    it('refuses to start without a SESSION_SECRET', () => {
      expectOneLineNaming(configError(production({})).message, 'SESSION_SECRET');
    });

    it('refuses a SESSION_SECRET shorter than 32 characters', () => {
      expectOneLineNaming(configError(production({ SESSION_SECRET: 'x'.repeat(31) })).message, 'SESSION_SECRET');
    });

    it('accepts a SESSION_SECRET of exactly 32 characters', () => {
      const config = parseConfig(production({ SESSION_SECRET: 'x'.repeat(32) }));
      expect(config.isProduction).toBe(true);
      expect(config.sessionSecrets).toEqual(['x'.repeat(32)]);
    });

    it('refuses a rotation list in which any secret is short', () => {
      const message = configError(production({ SESSION_SECRET: `${LONG_SECRET},short` })).message;
      expectOneLineNaming(message, 'SESSION_SECRET');
    });

    it('refuses a BCRYPT_COST below 10', () => {
      const message = configError(production({ SESSION_SECRET: LONG_SECRET, BCRYPT_COST: '9' })).message;
      expectOneLineNaming(message, 'BCRYPT_COST');
    });

    it('accepts a BCRYPT_COST of 10', () => {
      expect(parseConfig(production({ SESSION_SECRET: LONG_SECRET, BCRYPT_COST: '10' })).bcryptCost).toBe(10);
    });

    it('never puts the secret itself in the error message', () => {
      const short = 'hunter2-is-my-secret';
      expect(configError(production({ SESSION_SECRET: short })).message).not.toContain(short);
    });
  });

  describe('mail settings', () => {
    const production = (env: Record<string, string>) => ({
      NODE_ENV: 'production',
      SESSION_SECRET: LONG_SECRET,
      PUBLIC_URL: 'https://accounts.example.com',
      ...env,
    });

    it('refuses to start in production without a PUBLIC_URL, in one clear line', () => {
      const { PUBLIC_URL: _unset, ...env } = production({ SMTP_URL: 'smtps://mail.example:465' });
      const message = configError(env).message;
      expect(message).toBe(
        'Invalid configuration: PUBLIC_URL must be set in production (the https:// address people use, for links in mail)',
      );
    });

    it('writes mail to the outbox, from Gatehouse <no-reply@localhost>, with links to localhost:PORT, when nothing is set', () => {
      const config = parseConfig({});
      expect(config.mailTransport).toBe('outbox');
      expect(config.smtpUrl).toBeUndefined();
      expect(config.mailFrom).toBe('Gatehouse <no-reply@localhost>');
      // localhost, not the address listened on: browsers refuse passkeys on an IP address.
      expect(config.publicUrl).toBe('http://localhost:3000');
      expect(parseConfig({ HOST: '0.0.0.0', PORT: '8080' }).publicUrl).toBe('http://localhost:8080');
      expect(parseConfig({ HOST: '::1' }).publicUrl).toBe('http://localhost:3000');
      expect(config.publicOrigin).toBeNull();
    });

    it('sends through SMTP once SMTP_URL is set, and keeps the outbox when MAIL_TRANSPORT=outbox says so', () => {
      const smtp = parseConfig({ SMTP_URL: 'smtp://user:pw@mail.example:587' });
      expect(smtp.mailTransport).toBe('smtp');
      expect(smtp.smtpUrl).toBe('smtp://user:pw@mail.example:587');
      expect(parseConfig({ SMTP_URL: 'smtps://mail.example:465' }).mailTransport).toBe('smtp');
      expect(parseConfig({ SMTP_URL: 'smtp://mail.example', MAIL_TRANSPORT: 'outbox' }).mailTransport).toBe('outbox');
    });

    it('accepts a bare address or "Name <address>" as MAIL_FROM', () => {
      expect(parseConfig({ MAIL_FROM: 'accounts@example.com' }).mailFrom).toBe('accounts@example.com');
      expect(parseConfig({ MAIL_FROM: 'Example Accounts <accounts@example.com>' }).mailFrom).toBe(
        'Example Accounts <accounts@example.com>',
      );
    });

    it.each(['nobody', 'Name <>', 'Name <no at sign>', 'a@b\r\nBcc: victim@example.com', '<a@b> trailing'])(
      'rejects MAIL_FROM=%j with one line naming MAIL_FROM',
      (value) => {
        expectOneLineNaming(configError({ MAIL_FROM: value }).message, 'MAIL_FROM');
      },
    );

    it.each(['mail.example:587', 'http://mail.example', 'smtp://', 'not a url'])(
      'rejects SMTP_URL=%j with one line naming SMTP_URL',
      (value) => {
        expectOneLineNaming(configError({ SMTP_URL: value }).message, 'SMTP_URL');
      },
    );

    it('does not echo a malformed SMTP_URL, which may hold a password', () => {
      const message = configError({ SMTP_URL: 'http://user:s3cret-pw@mail.example' }).message;
      expectOneLineNaming(message, 'SMTP_URL');
      expect(message).not.toContain('s3cret-pw');
    });

    it('rejects an unknown MAIL_TRANSPORT, and MAIL_TRANSPORT=smtp without an SMTP_URL', () => {
      expectOneLineNaming(configError({ MAIL_TRANSPORT: 'sendmail' }).message, 'MAIL_TRANSPORT');
      expectOneLineNaming(configError({ MAIL_TRANSPORT: 'smtp' }).message, 'SMTP_URL');
    });

    it('takes PUBLIC_URL as the base of links, without a trailing slash', () => {
      expect(parseConfig({ PUBLIC_URL: 'https://accounts.example.com/' }).publicUrl).toBe(
        'https://accounts.example.com',
      );
      expect(parseConfig({ PUBLIC_URL: 'https://example.com/gatehouse' }).publicUrl).toBe(
        'https://example.com/gatehouse',
      );
    });

    it.each(['accounts.example.com', 'ftp://example.com', 'javascript:alert(1)', 'https://example.com/?a=1'])(
      'rejects PUBLIC_URL=%j with one line naming PUBLIC_URL',
      (value) => {
        expectOneLineNaming(configError({ PUBLIC_URL: value }).message, 'PUBLIC_URL');
      },
    );

    it('refuses to start in production without an SMTP_URL, in one clear line', () => {
      const message = configError(production({})).message;
      expect(message).toBe('Invalid configuration: SMTP_URL must be set in production (or MAIL_TRANSPORT=outbox)');
      expectOneLineNaming(message, 'SMTP_URL');
    });

    it('starts in production with an SMTP_URL, or with MAIL_TRANSPORT=outbox asked for by name', () => {
      expect(parseConfig(production({ SMTP_URL: 'smtps://mail.example:465' })).mailTransport).toBe('smtp');
      expect(parseConfig(production({ MAIL_TRANSPORT: 'outbox' })).mailTransport).toBe('outbox');
    });
  });

  it('reads a comma-separated SESSION_SECRET as several secrets, in order, the first one signing', () => {
    const config = parseConfig({ SESSION_SECRET: 'new-secret, old-secret ,older-secret' });
    expect(config.sessionSecrets).toEqual(['new-secret', 'old-secret', 'older-secret']);
    expect(parseConfig({ SESSION_SECRET: 'a,b' }).sessionSecrets).toEqual(['a', 'b']);
  });
});

describe('rotating SESSION_SECRET', () => {
  const FIRST = 'first-secret-that-is-long-enough-000000';
  const SECOND = 'second-secret-that-is-long-enough-00000';

  it('signs new cookies with the first secret and still honours sessions signed with a later one', async () => {
    const t = await startTestApp({ SESSION_SECRET: SECOND });
    try {
      // A user who logged in while SECOND was the only secret.
      const { browser, fields } = await signedUpBrowser(t.app);
      const oldCookie = browser.sessionCookie() ?? '';
      expect(oldCookie).not.toBe('');

      const rotated = await t.sibling({ SESSION_SECRET: `${FIRST},${SECOND}` });
      const signup = await new Browser(rotated.app).submit('/signup', '/signup', { ...signupFields() });
      expect(signup.status).toBe(303);
      const setCookie = [signup.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith('gatehouse.sid='));
      const value = decodeURIComponent((setCookie ?? '').split(';')[0]?.slice('gatehouse.sid='.length) ?? '');
      const match = /^s:([^.]+)\.(.+)$/.exec(value);
      expect(match, `a signed session cookie, got ${setCookie}`).not.toBeNull();
      const [, sid = '', signature] = match ?? [];
      const hmac = (secret: string) => createHmac('sha256', secret).update(sid).digest('base64').replace(/=+$/, '');
      expect(signature).toBe(hmac(FIRST));

      // The session signed with SECOND still works after the rotation...
      const dashboard = await request(rotated.app).get('/').set('Cookie', oldCookie);
      expect(dashboard.status).toBe(200);
      expect(dashboard.text).toContain(fields.email.toLowerCase());
      // ...but not once SECOND is dropped from the list.
      const dropped = await t.sibling({ SESSION_SECRET: FIRST });
      const refused = await request(dropped.app).get('/').set('Cookie', oldCookie);
      expect(refused.status).toBeGreaterThanOrEqual(300);
      expect(refused.status).toBeLessThan(400);
      expect(refused.headers['location']).toBe('/login?next=%2F');
    } finally {
      await t.close();
    }
    // It starts a database of its own (a new embedded Postgres, migrated): a hook's time, not a test's.
  }, 120_000);
});

describe('sessionSecrets outside production', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  const configIn = (env: Record<string, string> = {}): Config => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gh-secret-'));
    dirs.push(dir);
    return parseConfig({ DATA_DIR: path.join(dir, 'data'), ...env });
  };

  it('generates a long secret on first use and keeps it, private, in DATA_DIR/session-secret', () => {
    const config = configIn();
    const [secret, ...rest] = sessionSecrets(config);
    expect(rest).toEqual([]);
    expect(secret?.length).toBeGreaterThanOrEqual(32);
    const file = path.join(config.dataDir, 'session-secret');
    expect(readFileSync(file, 'utf8').trim()).toBe(secret);
    expect(statSync(file).mode & 0o077).toBe(0);
  });

  it('reuses the kept secret on the next start instead of generating a new one', () => {
    const config = configIn();
    const first = sessionSecrets(config);
    const second = sessionSecrets(parseConfig({ DATA_DIR: config.dataDir }));
    expect(second).toEqual(first);
  });

  it('uses a configured SESSION_SECRET and writes nothing to disk', () => {
    const config = configIn({ SESSION_SECRET: 'configured-one,configured-two' });
    expect(sessionSecrets(config)).toEqual(['configured-one', 'configured-two']);
    expect(() => statSync(path.join(config.dataDir, 'session-secret'))).toThrow();
  });
});

// ---------------------------------------------------------------------------
// The real process, as `npm start` runs it.

afterEach(killAll);
afterAll(cleanUpProcesses);

async function stop(runInfo: Run): Promise<void> {
  runInfo.child.kill('SIGTERM');
  await within(15_000, 'server shutdown', runInfo.exited);
}

describe('starting the server with a bad configuration', () => {
  const cases: Array<[string, Record<string, string>, string]> = [
    ['a non-numeric PORT', { PORT: 'abc' }, 'PORT'],
    ['a malformed DATABASE_URL', { DATABASE_URL: 'nonsense' }, 'DATABASE_URL'],
    ['a mysql:// DATABASE_URL', { DATABASE_URL: 'mysql://x/y' }, 'DATABASE_URL'],
    ['production without a SESSION_SECRET', { NODE_ENV: 'production' }, 'SESSION_SECRET'],
    [
      'production with a short SESSION_SECRET',
      { NODE_ENV: 'production', SESSION_SECRET: 'too-short' },
      'SESSION_SECRET',
    ],
    ['production without an SMTP_URL', { NODE_ENV: 'production', SESSION_SECRET: LONG_SECRET }, 'SMTP_URL'],
    [
      'production without a PUBLIC_URL',
      { NODE_ENV: 'production', SESSION_SECRET: LONG_SECRET, SMTP_URL: 'smtp://mail.example:587' },
      'PUBLIC_URL',
    ],
    [
      'production with BCRYPT_COST 4',
      { NODE_ENV: 'production', SESSION_SECRET: LONG_SECRET, BCRYPT_COST: '4' },
      'BCRYPT_COST',
    ],
  ];

  it.each(cases)(
    '%s: exits non-zero within seconds with one line naming %s and no stack trace',
    async (_label, env, key) => {
      const dir = tempDir();
      const started = Date.now();
      const result = run(SERVER, { DATA_DIR: path.join(dir, 'data'), ...env }, dir);
      const { code } = await within(10_000, 'exit', result.exited);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(code).not.toBe(0);
      expect(code).not.toBeNull();
      expect(result.out.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.out.stderr).toMatch(new RegExp(`\\b${key}\\b`));
      expect(result.out.stderr).not.toContain('    at ');
      if (env['SESSION_SECRET']) expect(result.out.stderr).not.toContain(env['SESSION_SECRET']);
    },
  );

  it('npm run migrate also stops with one line naming a malformed DATABASE_URL', async () => {
    const dir = tempDir();
    const result = run(MIGRATE, { DATA_DIR: path.join(dir, 'data'), DATABASE_URL: 'not a url' }, dir);
    const { code } = await within(10_000, 'exit', result.exited);
    expect(code).not.toBe(0);
    expect(result.out.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.out.stderr).toMatch(/\bDATABASE_URL\b/);
    expect(result.out.stderr).not.toContain('    at ');
  });

  it('reads the configuration from a .env file in the working directory', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, '.env'), 'PORT=abc\n');
    const result = run(SERVER, { DATA_DIR: path.join(dir, 'data') }, dir);
    const { code } = await within(10_000, 'exit', result.exited);
    expect(code).not.toBe(0);
    expect(result.out.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.out.stderr).toMatch(/\bPORT\b/);
  });

  it('lets the real environment win over the .env file', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, '.env'), 'PORT=abc\n');
    // PORT from the environment is fine; the only bad value left is DATABASE_URL.
    const result = run(SERVER, { DATA_DIR: path.join(dir, 'data'), PORT: '3000', DATABASE_URL: 'nonsense' }, dir);
    const { code } = await within(10_000, 'exit', result.exited);
    expect(code).not.toBe(0);
    expect(result.out.stderr).toMatch(/\bDATABASE_URL\b/);
    expect(result.out.stderr).not.toMatch(/\bPORT\b/);
  });
});

describe('the generated session secret outside production', () => {
  /** Signs up over HTTP the way a browser would; returns the session cookie ("name=value"). */
  async function signUp(base: string): Promise<string> {
    const form = await fetch(`${base}/signup`, { signal: AbortSignal.timeout(10_000) });
    // An anonymous form's token is an HMAC of the visitor value in its cookie (no session yet): the cookie goes back
    // with the form.
    const formCookies = form.headers.getSetCookie().map((c) => c.split(';')[0] ?? '');
    const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1];
    if (!formCookies.some((c) => c.startsWith('gatehouse.visitor=')) || !token)
      throw new Error('no visitor cookie or token on /signup');
    const body = new URLSearchParams({
      _csrf: token,
      name: 'Restart Tester',
      email: `restart-${Date.now()}@example.com`,
      password: 'correct horse battery staple',
      confirm: 'correct horse battery staple',
      website: '',
    });
    const response = await fetch(`${base}/signup`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: formCookies.join('; '), 'content-type': 'application/x-www-form-urlencoded' },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    if (response.status !== 303) throw new Error(`signup answered ${response.status}`);
    const cookie = response.headers.getSetCookie().find((c) => c.startsWith('gatehouse.sid='));
    if (!cookie) throw new Error('no session cookie after signup');
    return cookie.split(';')[0] ?? '';
  }

  it('is generated into DATA_DIR/session-secret on first start and reused on the next, so sessions survive a restart', async () => {
    const dir = tempDir();
    const dataDir = path.join(dir, 'data');
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = { DATA_DIR: dataDir, PORT: String(port), BCRYPT_COST: '4', LOG_LEVEL: 'warn' };

    const first = run(SERVER, env, dir);
    await waitForHealthy(base, first);
    const secretFile = path.join(dataDir, 'session-secret');
    const secret = readFileSync(secretFile, 'utf8').trim();
    expect(secret.length).toBeGreaterThanOrEqual(32);
    expect(statSync(secretFile).mode & 0o077).toBe(0);

    const cookie = await signUp(base);
    const before = await fetch(`${base}/`, { headers: { cookie }, redirect: 'manual' });
    expect(before.status).toBe(200);
    await stop(first);

    const second = run(SERVER, env, dir);
    await waitForHealthy(base, second);
    expect(readFileSync(secretFile, 'utf8').trim()).toBe(secret);
    const after = await fetch(`${base}/`, { headers: { cookie }, redirect: 'manual' });
    expect(after.status).toBe(200);
    expect(await after.text()).toContain('Restart Tester');
    await stop(second);
  }, 150_000);
});
