import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openDatabase } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import { signedUpBrowser, uniqueEmail } from './support/browser.js';
import { USERS_CLI, cleanUpProcesses, killGroup, run, running, tempDir, within } from './support/processes.js';
import { type TestApp, freshDatabase, startTestApp } from './support/test-app.js';
import { FIREFOX_LINUX } from './support/users.js';

// `npm run users -- …` run as a real process against a fresh database. On a real Postgres
// the app runs alongside and shares it; the embedded one admits one process at a time, so
// there the test opens it only to seed and check rows, and closes it before each command.

const ADMIN_URL = process.env['TEST_DATABASE_URL'];
const TIME = /\d{4}-\d\d-\d\d \d\d:\d\d UTC/;

// Each command is a new node process (and, embedded, a new database start): slow on a busy machine.
vi.setConfig({ testTimeout: 120_000 });

let app: TestApp | undefined;
let drop: (() => Promise<void>) | undefined;
let databaseEnv: Record<string, string>;
let withPool: <T>(use: (pool: pg.Pool) => Promise<T>) => Promise<T>;

/** Users made for one test each, by email; ids for checking rows afterwards. */
const seeded: Record<string, { email: string; id: number }> = {};
let seededTotal = 0;

afterAll(async () => {
  cleanUpProcesses();
  await app?.close();
  await drop?.();
});

interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the admin command with only the given environment, in an empty directory (no stray .env). */
async function users(args: string[], env: Record<string, string> = {}): Promise<Result> {
  // run() gives the child no terminal on stdin: what cron, CI or a pipe gives the command.
  const command = run(USERS_CLI, { NODE_ENV: 'test', BCRYPT_COST: '4', ...databaseEnv, ...env }, tempDir(), args);
  try {
    const { code } = await within(60_000, `users ${args.join(' ')} exiting`, command.exited);
    return { code, stdout: command.out.stdout, stderr: command.out.stderr };
  } finally {
    killGroup(command.child);
    running.delete(command.child);
  }
}

/** A failure reported the way an admin needs it: exactly one line on stderr, no stack trace. */
function expectOneLine(result: Result, code: number, pattern: RegExp): void {
  expect(result.code, result.stderr).toBe(code);
  expect(result.stderr).toMatch(/^[^\n]+\n$/);
  expect(result.stderr).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\bat .+:\d+:\d+/);
}

interface SeedSession {
  readonly userAgent?: string | null;
  readonly ip?: string | null;
  readonly expired?: boolean;
}

interface SeedUser {
  readonly name?: string;
  readonly website?: string | null;
  readonly active?: boolean;
  /** Minutes from now; the default is now. */
  readonly createdIn?: number;
  readonly sessions?: readonly SeedSession[];
}

/** Inserts a user (and their sessions) as the app would have stored them; returns the id. */
async function seedUser(pool: pg.Pool, email: string, user: SeedUser = {}): Promise<number> {
  const { rows } = await pool.query<{ id: number }>(
    `INSERT INTO users (name, email, password_hash, website, is_active, created_at)
     VALUES ($1, $2, '$2b$04$notarealhashnotarealhashnotarealhashnotarealhash', $3, $4, now() + make_interval(mins => $5))
     RETURNING id`,
    [user.name ?? 'Ada Lovelace', email, user.website ?? null, user.active ?? true, user.createdIn ?? 0],
  );
  const id = rows[0]!.id;
  for (const session of user.sessions ?? []) {
    await pool.query(
      `INSERT INTO sessions (sid, sess, expire, user_id, ip, user_agent)
       VALUES ($1, $2, localtimestamp + ($3 || ' hours')::interval, $4, $5, $6)`,
      [
        randomBytes(16).toString('hex'),
        JSON.stringify({ userId: id }),
        session.expired ? '-1' : '1',
        id,
        session.ip ?? '127.0.0.1',
        session.userAgent ?? null,
      ],
    );
  }
  return id;
}

const count = async (pool: pg.Pool, sql: string, values: unknown[]): Promise<number> =>
  (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, values)).rows[0]!.n;

beforeAll(async () => {
  if (ADMIN_URL) {
    const started = await startTestApp();
    app = started;
    databaseEnv = { DATABASE_URL: started.config.databaseUrl ?? '' };
    withPool = (use) => use(started.pool);
  } else {
    const fresh = await freshDatabase();
    drop = fresh.drop;
    databaseEnv = { DATA_DIR: fresh.dataDir };
    withPool = async (use) => {
      const db = await openDatabase({ url: undefined, dataDir: fresh.dataDir, poolSize: 2 });
      try {
        await migrate(db.pool);
        return await use(db.pool);
      } finally {
        await db.close();
      }
    };
  }

  // Every user at once: the embedded database opens slowly, and not while a command runs.
  const fixtures: Record<string, SeedUser> = {
    // In the future, so these three are the newest whatever else the file adds.
    oldest: { createdIn: 24 * 60 + 1 },
    middle: { createdIn: 24 * 60 + 2, name: 'Grace Hopper' },
    newest: { createdIn: 24 * 60 + 3, active: false },
    shown: {
      name: 'Ada Lovelace',
      website: 'https://ada.example',
      sessions: [
        { userAgent: FIREFOX_LINUX, ip: '203.0.113.9' },
        // A visitor chooses their user agent: escape sequences must not reach the admin's terminal.
        { userAgent: 'curl\u001b[2J\u001b[31mred', ip: '192.0.2.4' },
        // Bidi overrides, zero-width characters and line separators reorder, hide or break what the admin reads.
        { userAgent: 'evil\u202egnp.exe\u200bhidden\u2028line\u2029para\u2066iso\ufeffend', ip: '192.0.2.5' },
        { userAgent: FIREFOX_LINUX, ip: '198.51.100.7', expired: true },
      ],
    },
    deactivated: { sessions: [{ userAgent: FIREFOX_LINUX }, {}] },
    activated: { active: false },
    deleted: { sessions: [{}] },
    kept: { sessions: [{}] },
    pruned: { sessions: [{ expired: true }, { expired: true }, {}] },
    mfa: {},
    admin: {},
  };
  await withPool(async (pool) => {
    for (const [label, user] of Object.entries(fixtures)) {
      const email = uniqueEmail(label);
      seeded[label] = { email, id: await seedUser(pool, email, user) };
    }
    await pool.query(
      `INSERT INTO auth_events (user_id, event, ip, user_agent, detail)
       VALUES ($1, 'login', '203.0.113.9', $2, NULL), ($1, 'login_failed', '192.0.2.4', $2, 'wrong current password (email change)')`,
      [seeded['shown']!.id, FIREFOX_LINUX],
    );
    // The deactivated user had asked to move to another address: deactivation cancels that.
    await pool.query("UPDATE users SET pending_email = 'moved-away@example.com' WHERE id = $1", [
      seeded['deactivated']!.id,
    ]);
    await pool.query(
      `INSERT INTO account_tokens (user_id, purpose, token_hash, email, expires_at, target_email)
       VALUES ($1, 'verify_email', $2, 'moved-away@example.com', now() + interval '1 day', NULL),
              ($1, 'cancel_email_change', $3, $4, now() + interval '1 day', 'moved-away@example.com')`,
      [seeded['deactivated']!.id, randomBytes(32), randomBytes(32), seeded['deactivated']!.email],
    );
    // An account with an authenticator app and three recovery codes left (what the app stores).
    await pool.query("INSERT INTO user_totp (user_id, secret_sealed) VALUES ($1, '\\x01')", [seeded['mfa']!.id]);
    await pool.query('INSERT INTO recovery_codes (user_id, code_hash) SELECT $1::bigint, unnest($2::bytea[])', [
      seeded['mfa']!.id,
      [randomBytes(32), randomBytes(32), randomBytes(32)],
    ]);
    // …and one passkey (the key bytes do not matter to the admin command).
    await pool.query(
      `INSERT INTO passkeys (user_id, credential_id, public_key, device_type, backed_up, aaguid, name)
       VALUES ($1, $2, $3, 'multiDevice', true, '00000000-0000-0000-0000-000000000000', 'Work laptop')`,
      [seeded['mfa']!.id, randomBytes(16).toString('base64url'), randomBytes(77)],
    );
    seededTotal = await count(pool, 'users', []);
  });
});

const user = (label: string) => seeded[label]!;

// The listing comes first, while the users are those seeded above.
describe('npm run users -- list', () => {
  it('lists users newest first, a page at a time, and says which page of how many', async () => {
    const total = seededTotal;
    const pages = Math.ceil(total / 2);

    const first = await users(['list', '--per-page', '2']);
    expect(first.code, first.stderr).toBe(0);
    const lines = first.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+EMAIL\s+NAME\s+ACTIVE\s+CREATED\s+LAST LOGIN$/);
    expect(lines[1]).toContain(user('newest').email);
    expect(lines[1]).toMatch(/\bno\b/);
    expect(lines[2]).toContain(user('middle').email);
    expect(lines[2]).toContain('Grace Hopper');
    expect(lines[2]).toMatch(TIME);
    expect(lines.at(-1)).toBe(`page 1 of ${pages} (${total} users)`);
    expect(lines).toHaveLength(4);

    const second = await users(['list', '--page', '2', '--per-page', '2']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout.split('\n')[1]).toContain(user('oldest').email);
    expect(second.stdout).toContain(`page 2 of ${pages} (${total} users)`);
  });
});

describe('npm run users -- show', () => {
  it('shows the user, their open sessions with a short browser name, and their latest auth events', async () => {
    const { email } = user('shown');
    // Typed as an admin might paste it: the command lower-cases and trims, as the forms do.
    const result = await users(['show', `  ${email.toUpperCase()} `]);
    expect(result.code, result.stderr).toBe(0);
    const out = result.stdout;
    expect(out).toMatch(new RegExp(`^email\\s+${email.replaceAll('.', '\\.')}$`, 'm'));
    expect(out).toMatch(/^name\s+Ada Lovelace$/m);
    expect(out).toMatch(/^website\s+https:\/\/ada\.example$/m);
    expect(out).toMatch(/^active\s+yes$/m);
    expect(out).toMatch(new RegExp(`^created\\s+${TIME.source}$`, 'm'));
    expect(out).toContain('Open sessions: 3');
    expect(out).toContain('evil?gnp.exe?hidden?line?para?iso?end');
    expect(out).not.toMatch(/[\u200b\u2028\u2029\u202e\u2066\ufeff]/);
    expect(out).toMatch(/203\.0\.113\.9\s+Firefox 133 on Linux/);
    expect(out).toContain('curl?[2J?[31mred');
    expect(out).not.toContain('\u001b');
    expect(out).not.toContain('198.51.100.7'); // expired: not open
    expect(out).toMatch(/login_failed\s+192\.0\.2\.4\s+wrong current password \(email change\)/);
    expect(out).toMatch(new RegExp(`${TIME.source}\\s+login\\s+203\\.0\\.113\\.9`));
  });
});

describe('npm run users -- deactivate / activate', () => {
  it('deactivating ends the user’s sessions at once and is audited; a second run says it was already done', async () => {
    const { email, id } = user('deactivated');
    const result = await users(['deactivate', email]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`Deactivated ${email}; ended 2 sessions.\n`);

    const again = await users(['deactivate', email]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe(`${email} was already inactive.\n`);

    await withPool(async (pool) => {
      expect((await pool.query('SELECT is_active FROM users WHERE id = $1', [id])).rows[0]).toEqual({
        is_active: false,
      });
      expect(await count(pool, 'sessions WHERE user_id = $1', [id])).toBe(0);
      const { rows } = await pool.query(
        'SELECT user_agent, detail FROM auth_events WHERE user_id = $1 AND event = $2',
        [id, 'deactivated'],
      );
      expect(rows).toEqual([{ user_agent: 'admin command', detail: '2 session(s) ended' }]);
      // The pending email change is cancelled, and its links are void.
      expect((await pool.query('SELECT pending_email FROM users WHERE id = $1', [id])).rows[0]).toEqual({
        pending_email: null,
      });
      expect(await count(pool, 'account_tokens WHERE user_id = $1', [id])).toBe(0);
      expect(await count(pool, 'auth_events WHERE user_id = $1 AND event = $2', [id, 'email_change_cancelled'])).toBe(
        1,
      );
    });
  });

  it.runIf(ADMIN_URL)('a deactivated user’s browser is anonymous on its very next request', async () => {
    const { browser, fields } = await signedUpBrowser(app!.app);
    expect((await browser.get('/')).status).toBe(200);

    const result = await users(['deactivate', fields.email]);
    expect(result.stdout).toBe(`Deactivated ${fields.email}; ended 1 session.\n`);

    const next = await browser.get('/');
    expect([302, 303]).toContain(next.status);
    expect(next.headers['location']).toMatch(/^\/login/);
  });

  it('activating lets a deactivated user log in again, and is audited', async () => {
    const { email, id } = user('activated');
    const result = await users(['activate', email]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`Activated ${email}.\n`);

    const again = await users(['activate', email]);
    expect(again.stdout).toBe(`${email} was already active.\n`);

    await withPool(async (pool) => {
      expect((await pool.query('SELECT is_active FROM users WHERE id = $1', [id])).rows[0]).toEqual({
        is_active: true,
      });
      expect(await count(pool, 'auth_events WHERE user_id = $1 AND event = $2', [id, 'activated'])).toBe(1);
    });
  });
});

describe('npm run users -- admin:grant / admin:revoke', () => {
  it('makes an admin of the console and unmakes one, each audited; show says it; a second run says it was so', async () => {
    const { email, id } = user('admin');
    const before = await users(['show', email]);
    expect(before.stdout).toMatch(/^admin\s+no$/m);

    const granted = await users(['admin:grant', email]);
    expect(granted.code, granted.stderr).toBe(0);
    expect(granted.stdout).toMatch(new RegExp(`^${email.replaceAll('.', '\\.')} is now an admin\\.`));
    expect(granted.stdout).toContain('second factor');
    expect((await users(['admin:grant', email])).stdout).toBe(`${email} was already an admin.\n`);
    const shown = await users(['show', email]);
    expect(shown.stdout).toMatch(new RegExp(`^admin\\s+yes, since ${TIME.source}$`, 'm'));
    await withPool(async (pool) => {
      expect(await count(pool, 'admin_roles WHERE user_id = $1', [id])).toBe(1);
    });

    const revoked = await users(['admin:revoke', email]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toBe(`${email} is no longer an admin.\n`);
    expect((await users(['admin:revoke', email])).stdout).toBe(`${email} was not an admin.\n`);
    expect((await users(['show', email])).stdout).toMatch(/^admin\s+no$/m);

    await withPool(async (pool) => {
      expect(await count(pool, 'admin_roles WHERE user_id = $1', [id])).toBe(0);
      const { rows } = await pool.query(
        "SELECT event, user_agent FROM auth_events WHERE user_id = $1 AND event LIKE 'admin_%' ORDER BY id",
        [id],
      );
      expect(rows).toEqual([
        { event: 'admin_granted', user_agent: 'admin command' },
        { event: 'admin_revoked', user_agent: 'admin command' },
      ]);
    });
  });

  it('needs one email; an unknown one is one line and exit 1', async () => {
    expectOneLine(await users(['admin:grant']), 2, /admin:grant: takes one EMAIL/);
    expectOneLine(await users(['admin:grant', 'nobody-at-all@example.com']), 1, /No user with email/);
    expectOneLine(await users(['admin:revoke', 'nobody-at-all@example.com']), 1, /No user with email/);
  });
});

describe('npm run users -- mfa:reset', () => {
  it('lists the factors in show, removes every one (audited, the owner mailed), and says so', async () => {
    const { email, id } = user('mfa');
    const before = await users(['show', email]);
    expect(before.code, before.stderr).toBe(0);
    expect(before.stdout).toMatch(new RegExp(`authenticator app\\s+on since ${TIME.source}`));
    expect(before.stdout).toMatch(/recovery codes\s+3 left/);
    expect(before.stdout).toMatch(/passkeys\s+1/);
    expect(before.stdout).toMatch(new RegExp(`PASSKEY\\s+ADDED\\s+LAST USED\\n\\s+Work laptop\\s+${TIME.source}\\s+-`));

    const result = await users(['mfa:reset', email]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(
      `Removed the authenticator app, 3 recovery codes, 1 passkey from ${email}; the password alone logs in now. The owner was mailed.\n`,
    );
    await withPool(async (pool) => {
      expect(await count(pool, 'user_totp WHERE user_id = $1', [id])).toBe(0);
      expect(await count(pool, 'recovery_codes WHERE user_id = $1', [id])).toBe(0);
      expect(await count(pool, 'passkeys WHERE user_id = $1', [id])).toBe(0);
      const { rows } = await pool.query(
        'SELECT user_agent, detail FROM auth_events WHERE user_id = $1 AND event = $2',
        [id, 'mfa_reset'],
      );
      expect(rows).toEqual([
        { user_agent: 'admin command', detail: 'authenticator app, 3 recovery code(s), 1 passkey(s)' },
      ]);
      expect(await count(pool, "mail_outbox WHERE recipient = $1 AND template = 'security-change'", [email])).toBe(1);
    });
    const again = await users(['mfa:reset', email]);
    expect(again.stdout).toBe(`${email} had no second factor.\n`);
    const after = await users(['show', email]);
    expect(after.stdout).toMatch(/authenticator app\s+off/);
  });

  it('needs one email, and an unknown one is one line and exit 1', async () => {
    expect((await users(['mfa:reset'])).code).toBe(2);
    const unknown = await users(['mfa:reset', 'nobody-here@example.com']);
    expectOneLine(unknown, 1, /No user with email nobody-here@example\.com/);
  });
});

describe('npm run users -- delete', () => {
  it('with --yes deletes the user and every session of theirs; without it and no terminal, refuses', async () => {
    const deleted = user('deleted');
    const kept = user('kept');
    const result = await users(['delete', deleted.email, '--yes']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`Deleted ${deleted.email}; ended 1 session.\n`);

    // No terminal on stdin (cron, CI, a pipe): nothing to ask on, so nothing is deleted.
    expectOneLine(await users(['delete', kept.email]), 1, /^Not deleted: .*--yes/);

    await withPool(async (pool) => {
      expect(await count(pool, 'users WHERE id = $1', [deleted.id])).toBe(0);
      expect(await count(pool, 'sessions WHERE user_id = $1', [deleted.id])).toBe(0);
      // The audit trail outlives the account: it keeps the id.
      expect(await count(pool, 'auth_events WHERE user_id = $1 AND event = $2', [deleted.id, 'account_deleted'])).toBe(
        1,
      );
      expect(await count(pool, 'users WHERE id = $1', [kept.id])).toBe(1);
      expect(await count(pool, 'sessions WHERE user_id = $1', [kept.id])).toBe(1);
    });
  });
});

describe('npm run users -- sessions:prune', () => {
  it('deletes expired sessions and says how many; open ones stay', async () => {
    const result = await users(['sessions:prune']);
    expect(result.code, result.stderr).toBe(0);
    const pruned = Number(/^Pruned (\d+) expired sessions?\.\n$/.exec(result.stdout)?.[1]);
    expect(pruned).toBeGreaterThanOrEqual(2);
    await withPool(async (pool) => {
      expect(await count(pool, 'sessions WHERE expire < localtimestamp', [])).toBe(0);
      expect(await count(pool, 'sessions WHERE user_id = $1', [user('pruned').id])).toBe(1);
    });
  });
});

describe('npm run users -- when something is wrong', () => {
  it('an unknown email is one line on stderr and exit code 1', async () => {
    const email = uniqueEmail('nobody');
    expectOneLine(
      await users(['show', email]),
      1,
      new RegExp(`^No user with email ${email.replaceAll('.', '\\.')}\\.\n$`),
    );
  });

  it('an unreachable database or a bad configuration is one line on stderr and exit code 1', async () => {
    const [down, badConfig] = await Promise.all([
      users(['list'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x' }),
      users(['list'], { PORT: 'abc' }),
    ]);
    expectOneLine(down, 1, /^Cannot reach the database: .*ECONNREFUSED/);
    expectOneLine(badConfig, 1, /^Invalid configuration: PORT /);
  });

  it.skipIf(ADMIN_URL)(
    'an embedded database held by another process (the server) is one line saying what to do',
    async () => {
      const result = await withPool(() => users(['list']));
      expectOneLine(result, 1, /in use by another process.*Stop it, or set DATABASE_URL/);
    },
  );

  it('bad arguments are one line on stderr and exit code 2, before any database is opened', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['list', '--page', '0'], /--page must be at least 1/],
      [['list', '--per-page', 'ten'], /--per-page must be a whole number/],
      [['list', '--bogus'], /Unknown option '--bogus'/],
      [['list', '--yes'], /list: does not take --yes/],
      [['show'], /show: takes one EMAIL/],
      [['show', 'a@example.com', 'b@example.com'], /show: takes one EMAIL/],
      [['deactivate', 'not-an-email'], /"not-an-email" is not a valid email address/],
      [['sessions:prune', 'now'], /takes no arguments/],
    ];
    // Nowhere to connect: a command that tried would fail with exit code 1 instead.
    const results = await Promise.all(
      cases.map(([args]) => users(args, { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x' })),
    );
    results.forEach((result, i) => expectOneLine(result, 2, cases[i]![1]));
  });

  it('help (or no command) prints the usage; an unknown command prints it on stderr with exit code 2', async () => {
    const [help, none, unknown] = await Promise.all([users(['help']), users([]), users(['frobnicate'])]);
    for (const result of [help, none]) {
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^Usage: npm run users -- <command>/);
      expect(result.stdout).toContain('sessions:prune');
    }
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toMatch(/^Unknown command "frobnicate"\.\n\nUsage:/);
  });
});
