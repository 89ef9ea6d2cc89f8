import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { type AddressObject, type ParsedMail, simpleParser } from 'mailparser';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Config, parseConfig } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import { createLogger } from '../src/http/logging.js';
import { mailOutboxRepo } from '../src/mail/mail-outbox-repo.js';
import { type Mailer, type MailerTiming, createMailer, retryDelayMs } from '../src/mail/mail-queue.js';
import { type TemplateData, type TemplateName, mailRenderer } from '../src/mail/mail-templates.js';
import { TEST_SECRET, type TestApp, startTestApp } from './support/test-app.js';

let t: TestApp;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});
beforeEach(async () => {
  // One database for the file: each test starts from an empty queue.
  await t.pool.query('DELETE FROM mail_outbox');
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const FAST: Partial<MailerTiming> = { pollIntervalMs: 20, retryBaseMs: 60, retryMaxMs: 1_000 };
const PUBLIC_URL = 'https://accounts.example.test';

/** A config as the app would parse it, on the test database, with the given mail settings. */
function configWith(env: Record<string, string>): Config {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'gh-mail-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  return parseConfig({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    SESSION_SECRET: TEST_SECRET,
    PUBLIC_URL,
    MAIL_FROM: 'Gatehouse Test <no-reply@gatehouse.test>',
    ...env,
  });
}

interface TestMailer {
  readonly mailer: Mailer;
  readonly config: Config;
  /** Every log line, as text. */
  readonly logs: string[];
}

function mailerFor(
  env: Record<string, string>,
  options: { pool?: pg.Pool; timing?: Partial<MailerTiming>; secrets?: string[] } = {},
): TestMailer {
  const config = configWith(env);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  const mailer = createMailer({
    config,
    pool: options.pool ?? t.pool,
    logger: createLogger('info', sink),
    secrets: options.secrets ?? config.sessionSecrets,
    timing: { ...FAST, ...options.timing },
  });
  cleanups.push(() => mailer.stop());
  return { mailer, config, logs };
}

interface Received {
  readonly raw: Buffer;
  readonly envelopeTo: string[];
  readonly at: number;
}

/** A real SMTP server on a free loopback port; `refuse(n)` decides whether the n-th message (from 1) gets a 451. */
async function smtpServer(refuse: (attempt: number) => boolean = () => false) {
  const received: Received[] = [];
  const refusedAt: number[] = [];
  let attempts = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        attempts += 1;
        if (refuse(attempts)) {
          refusedAt.push(Date.now());
          callback(Object.assign(new Error('Mailbox busy, try again later'), { responseCode: 451 }));
          return;
        }
        const envelopeTo = session.envelope.rcptTo.map((rcpt) => rcpt.address);
        received.push({ raw: Buffer.concat(chunks), envelopeTo, at: Date.now() });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  cleanups.push(close);
  return { url: `smtp://127.0.0.1:${port}`, received, refusedAt, attempts: () => attempts };
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function addresses(field: AddressObject | AddressObject[] | undefined): string[] {
  const list = Array.isArray(field) ? field : field ? [field] : [];
  return list.flatMap((object) => object.value.map((entry) => entry.address ?? ''));
}

interface Row {
  id: number;
  attempts: number;
  payload: Buffer | null;
  sent_at: Date | null;
  failed_at: Date | null;
  last_error: string | null;
}

async function rows(): Promise<Row[]> {
  const result = await t.pool.query<Row>(
    'SELECT id, attempts, payload, sent_at, failed_at, last_error FROM mail_outbox ORDER BY id',
  );
  return result.rows;
}

const TOKEN = 'tok_5f1d9a0c7e3b4a6d8c2e1f0b9a8d7c6e';
const RESET_LINK = `${PUBLIC_URL}/password/reset/${TOKEN}`;
const WHEN = new Date('2026-11-27T09:15:00Z');

/** One message of every template, each to its own address. */
const EXAMPLES: { [T in TemplateName]: { to: string; data: TemplateData<T>; subject: RegExp; says: RegExp[] } } = {
  'password-reset': {
    to: 'reset@example.test',
    data: { name: 'Ada Lovelace', link: RESET_LINK, expiresInMinutes: 60 },
    subject: /^Reset your Gatehouse password$/,
    says: [/60 minutes/, new RegExp(RESET_LINK)],
  },
  'verify-email': {
    to: 'verify@example.test',
    data: { link: `${PUBLIC_URL}/email/verify/${TOKEN}`, expiresInHours: 48 },
    subject: /^Confirm your email address for Gatehouse$/,
    says: [/48 hours/, new RegExp(`${PUBLIC_URL}/email/verify/${TOKEN}`)],
  },
  'password-changed': {
    to: 'changed@example.test',
    data: { name: 'Ada Lovelace', when: WHEN, ip: '203.0.113.7', userAgent: 'Mozilla/5.0 (X11; Linux) Firefox/140.0' },
    subject: /^Your Gatehouse password was changed$/,
    says: [/27 November 2026 at 09:15 UTC/, /203\.0\.113\.7/, /Firefox\/140\.0/],
  },
  'email-change-requested': {
    to: 'old-address@example.test',
    data: {
      name: 'Ada Lovelace',
      newEmail: 'new-address@example.test',
      cancelLink: `${PUBLIC_URL}/email/change/cancel?token=${TOKEN}`,
      expiresInDays: 7,
    },
    subject: /^Your Gatehouse email address is being changed$/,
    says: [/new-address@example\.test/, /Cancel this change|Cancel the change/],
  },
  'security-change': {
    to: 'factor@example.test',
    data: {
      name: 'Ada Lovelace',
      change: 'recovery-code-used',
      when: WHEN,
      ip: '192.0.2.8',
      browser: 'Firefox 140 on Linux',
      codesLeft: 3,
    },
    subject: /^How you sign in to Gatehouse has changed$/,
    says: [/A recovery code was used/, /3 codes are left/, /192\.0\.2\.8/],
  },
  'second-factor-failed': {
    to: 'guessing@example.test',
    data: { name: 'Ada Lovelace', when: WHEN, ip: '192.0.2.9', browser: 'Chrome 131 on Windows' },
    subject: /^Someone may have your Gatehouse password$/,
    says: [/wrong codes/, /192\.0\.2\.9/],
  },
  'changed-by-admin': {
    to: 'by-admin@example.test',
    data: { name: 'Ada Lovelace', when: WHEN, change: 'sessions-ended' },
    subject: /^An administrator changed your Gatehouse account$/,
    says: [/signed your account out of every browser/, /27 November 2026 at 09:15 UTC/],
  },
  'login-code': {
    to: 'code@example.test',
    data: { name: 'Ada Lovelace', code: 'ABC-234', expiresInMinutes: 15 },
    subject: /^Your Gatehouse sign-in code$/,
    says: [/ABC-234/, /15 minutes/, /only in the browser that asked/],
  },
  'new-sign-in': {
    to: 'signin@example.test',
    data: { name: 'Ada Lovelace', when: WHEN, ip: '198.51.100.23', browser: 'Safari on macOS' },
    subject: /^New sign-in to your Gatehouse account$/,
    says: [/27 November 2026 at 09:15 UTC/, /198\.51\.100\.23/, /Safari on macOS/],
  },
};
const TEMPLATES = Object.keys(EXAMPLES) as TemplateName[];

function sendExample<T extends TemplateName>(mailer: Mailer, template: T): Promise<number> {
  const example = EXAMPLES[template];
  return mailer.send({ to: example.to, template, data: example.data });
}

function resetTo(to: string, name = 'Ada Lovelace') {
  return { to, template: 'password-reset' as const, data: { name, link: RESET_LINK, expiresInMinutes: 60 } };
}

describe('sending through a real SMTP server', () => {
  it('delivers every template with To, From, Subject, a text and an HTML part, and its link', async () => {
    const smtp = await smtpServer();
    const { mailer, logs } = mailerFor({ SMTP_URL: smtp.url });
    mailer.start();
    for (const template of TEMPLATES) await sendExample(mailer, template);
    await until('every template to arrive', () => smtp.received.length === TEMPLATES.length);

    const parsed = new Map<string, ParsedMail>();
    for (const message of smtp.received) {
      const mail = await simpleParser(message.raw);
      parsed.set(addresses(mail.to)[0] ?? '', mail);
    }
    for (const template of TEMPLATES) {
      const example = EXAMPLES[template];
      const mail = parsed.get(example.to);
      expect(mail, `${template} arrived`).toBeDefined();
      if (!mail) continue;
      expect(addresses(mail.to)).toEqual([example.to]);
      expect(mail.from?.value).toEqual([{ name: 'Gatehouse Test', address: 'no-reply@gatehouse.test' }]);
      expect(mail.subject).toMatch(example.subject);
      // A verification goes to an address that has not proven itself: no name anyone typed.
      const hello = template === 'verify-email' ? 'Hello,' : 'Hello Ada Lovelace,';
      expect(mail.text).toContain(hello);
      expect(mail.html).toBeTruthy();
      expect(mail.html || '').toContain(hello);
      for (const phrase of example.says) {
        expect(mail.text, `${template} text`).toMatch(phrase);
        expect(mail.html || '', `${template} html`).toMatch(phrase);
      }
      expect(mail.text).toMatch(/If this wasn't you/);
      expect(mail.text).toContain('Gatehouse');
    }
    // The reset link is a real link in the HTML part; the notices point at the reset page.
    expect(parsed.get(EXAMPLES['password-reset'].to)?.html).toContain(`href="${RESET_LINK}"`);
    expect(parsed.get(EXAMPLES['new-sign-in'].to)?.text).toContain(`${PUBLIC_URL}/password/forgot`);
    expect(smtp.received.map((message) => message.envelopeTo)).toEqual(
      expect.arrayContaining(TEMPLATES.map((template) => [EXAMPLES[template].to])),
    );

    await until('the rows to be marked sent', async () => (await mailer.counts()).sent === TEMPLATES.length);
    expect(await mailer.counts()).toEqual({ pending: 0, sent: TEMPLATES.length, failed: 0 });
    // SMTP mode logs which message went out, never what it said.
    const logged = logs.join('');
    expect(logged).toMatch(/"msg":"mail sent"/);
    expect(logged).not.toContain(TOKEN);
  });

  it('escapes what users typed in the HTML part, and keeps it as typed in the text part', async () => {
    const smtp = await smtpServer();
    const { mailer } = mailerFor({ SMTP_URL: smtp.url });
    mailer.start();
    const name = '<script>alert("x")</script> & <b>Bob</b>';
    await mailer.send({
      to: 'escape@example.test',
      template: 'new-sign-in',
      data: { name, when: WHEN, ip: '192.0.2.1', browser: '<img src=x onerror=alert(1)>' },
    });
    await until('the message', () => smtp.received.length === 1);
    const mail = await simpleParser((smtp.received[0] as Received).raw);
    const html = mail.html || '';
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<b>Bob</b>');
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;Bob&lt;/b&gt;');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(mail.text).toContain(`Hello ${name},`);
  });

  it('refuses to queue a message with a malformed address or the wrong data, and queues nothing', async () => {
    const { mailer } = mailerFor({ MAIL_TRANSPORT: 'outbox' });
    await expect(mailer.send(resetTo('not-an-address'))).rejects.toThrow();
    await expect(mailer.send(resetTo('a@example.test\r\nBcc: victim@example.test'))).rejects.toThrow();
    await expect(
      mailer.send({
        to: 'a@example.test',
        template: 'password-reset',
        data: { name: 'Ann', link: 'javascript:alert(1)', expiresInMinutes: 60 },
      }),
    ).rejects.toThrow();
    expect(await rows()).toEqual([]);
  });
});

describe('queueing inside a transaction', () => {
  it("queues the message only if the caller's transaction commits", async () => {
    const { mailer } = mailerFor({ MAIL_TRANSPORT: 'outbox' });
    const client = await t.pool.connect();
    try {
      await client.query('BEGIN');
      await mailer.send(resetTo('rolled-back@example.test'), { db: client });
      await client.query('ROLLBACK');
      await client.query('BEGIN');
      await mailer.send(resetTo('committed@example.test'), { db: client });
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const { rows: queued } = await t.pool.query<{ recipient: string }>('SELECT recipient FROM mail_outbox');
    expect(queued).toEqual([{ recipient: 'committed@example.test' }]);
  });
});

describe('the development outbox', () => {
  it('writes each message as an .eml file in DATA_DIR/outbox and logs the file and the link', async () => {
    const { mailer, config, logs } = mailerFor({ MAIL_TRANSPORT: 'outbox' });
    mailer.start();
    await sendExample(mailer, 'password-reset');
    const outbox = path.join(config.dataDir, 'outbox');
    await until('the .eml file', async () => (await mailer.counts()).sent === 1);

    const files = readdirSync(outbox).filter((file) => file.endsWith('.eml'));
    expect(files).toHaveLength(1);
    const file = path.join(outbox, files[0] as string);
    expect(statSync(file).mode & 0o077).toBe(0); // private: it holds a live link
    const mail = await simpleParser(readFileSync(file));
    expect(addresses(mail.to)).toEqual(['reset@example.test']);
    expect(mail.subject).toBe('Reset your Gatehouse password');
    expect(mail.text).toContain(RESET_LINK);
    expect(mail.html || '').toContain(`href="${RESET_LINK}"`);

    const line = logs.map((entry) => JSON.parse(entry) as Record<string, unknown>).find((entry) => entry['file']);
    expect(line).toMatchObject({ level: 30, msg: 'mail written to outbox', file, link: RESET_LINK });
  });
});

describe('when the SMTP server refuses', () => {
  it('retries with growing waits and, after the last try, logs an error and marks the message failed', async () => {
    const smtp = await smtpServer(() => true);
    const { mailer, logs } = mailerFor({ SMTP_URL: smtp.url }, { timing: { maxAttempts: 3 } });
    mailer.start();
    const id = await mailer.send(resetTo('refused@example.test'));
    await until('the message to fail', async () => (await mailer.counts()).failed === 1);

    expect(smtp.attempts()).toBe(3);
    const [first, second, third] = smtp.refusedAt as [number, number, number];
    // 60 ms, then 120 ms: each wait at least the backoff, the second longer than the first.
    expect(second - first).toBeGreaterThanOrEqual(55);
    expect(third - second).toBeGreaterThanOrEqual(115);
    const [row] = await rows();
    expect(row).toMatchObject({ id, attempts: 3, sent_at: null, payload: null });
    expect(row?.failed_at).toBeInstanceOf(Date);
    expect(row?.last_error).toMatch(/451/);

    const entries = logs.map((entry) => JSON.parse(entry) as Record<string, unknown>);
    expect(entries.filter((entry) => entry['msg'] === 'mail not sent; will retry')).toHaveLength(2);
    const error = entries.find((entry) => entry['msg'] === 'mail could not be sent; giving up');
    expect(error).toMatchObject({ level: 50, mailId: id, template: 'password-reset', attempts: 3 });
    expect(logs.join('')).not.toContain(TOKEN);

    // Failed for good: later polls leave it alone.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(smtp.attempts()).toBe(3);
  });

  it('delivers once the server takes mail again, exactly once', async () => {
    const smtp = await smtpServer((attempt) => attempt <= 2);
    const { mailer } = mailerFor({ SMTP_URL: smtp.url });
    mailer.start();
    await mailer.send(resetTo('flaky@example.test'));
    await until('delivery', async () => (await mailer.counts()).sent === 1);
    expect(smtp.received).toHaveLength(1);
    expect((await rows())[0]).toMatchObject({ attempts: 3, failed_at: null, payload: null });
  });

  it('keeps mail queued while no SMTP server answers at all, and retries', async () => {
    const smtp = await smtpServer();
    const closed = 'smtp://127.0.0.1:1';
    const { mailer } = mailerFor({ SMTP_URL: closed }, { timing: { maxAttempts: 2, retryBaseMs: 10_000 } });
    await mailer.send(resetTo('down@example.test'));
    await mailer.sendDue();
    const [row] = await rows();
    expect(row).toMatchObject({ attempts: 1, failed_at: null, sent_at: null });
    expect(row?.payload).not.toBeNull();
    expect(row?.last_error).toMatch(/ECONNREFUSED|connect/i);
    expect(smtp.received).toHaveLength(0);
  });

  it('waits 30 s, 60 s, 120 s, 240 s between tries by default, and never more than an hour', () => {
    const timing = { retryBaseMs: 30_000, retryMaxMs: 3_600_000 };
    expect([1, 2, 3, 4].map((attempt) => retryDelayMs(attempt, timing))).toEqual([30_000, 60_000, 120_000, 240_000]);
    expect(retryDelayMs(20, timing)).toBe(3_600_000);
  });
});

describe('the queue is durable', () => {
  it('delivers mail queued before a restart, when the next process starts its worker', async () => {
    const smtp = await smtpServer();
    // A database of its own, closed and opened again as a restarted process would.
    const dataDir = mkdtempSync(path.join(tmpdir(), 'gh-mail-restart-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const url = t.config.databaseUrl;

    const before = await openDatabase({ url, dataDir, poolSize: 2 });
    await migrate(before.pool);
    const first = mailerFor({ SMTP_URL: smtp.url }, { pool: before.pool });
    await first.mailer.send(resetTo('restart@example.test'));
    await first.mailer.stop(); // never started: the message is only in the table
    await before.close();
    expect(smtp.received).toHaveLength(0);

    const after = await openDatabase({ url, dataDir, poolSize: 2 });
    cleanups.push(() => after.close());
    const second = mailerFor({ SMTP_URL: smtp.url }, { pool: after.pool });
    second.mailer.start();
    await until('the queued message', () => smtp.received.length === 1);
    const mail = await simpleParser((smtp.received[0] as Received).raw);
    expect(addresses(mail.to)).toEqual(['restart@example.test']);
    expect(mail.text).toContain(RESET_LINK);
    // Two embedded Postgres start-ups: seconds each, more on a busy machine.
  }, 120_000);

  it('sends a message whose worker died while holding it, once its lease runs out', async () => {
    const smtp = await smtpServer();
    const { mailer } = mailerFor({ SMTP_URL: smtp.url });
    await mailer.send(resetTo('orphan@example.test'));
    // A worker in another process claims it, then dies without a word.
    const [claimed] = await mailOutboxRepo(t.pool).claimDue(10, 0.3);
    expect(claimed?.recipient).toBe('orphan@example.test');
    mailer.start();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(smtp.received).toHaveLength(0); // still leased to the dead worker
    await until('the orphaned message', () => smtp.received.length === 1);
    expect((await rows())[0]).toMatchObject({ attempts: 2, failed_at: null });
  });

  it('two workers on one database deliver each of 30 messages exactly once', async () => {
    const smtp = await smtpServer();
    // With a real server, the second worker gets its own connections, as another process would.
    const otherPool = t.config.databaseUrl ? new pg.Pool({ connectionString: t.config.databaseUrl, max: 4 }) : t.pool;
    if (otherPool !== t.pool) cleanups.push(() => otherPool.end());
    const timing = { batchSize: 3, pollIntervalMs: 10 };
    const a = mailerFor({ SMTP_URL: smtp.url }, { timing });
    const b = mailerFor({ SMTP_URL: smtp.url }, { timing, pool: otherPool });
    a.mailer.start();
    b.mailer.start();
    const recipients = Array.from({ length: 30 }, (_, i) => `user${i}@example.test`);
    await Promise.all(recipients.map((to, i) => (i % 2 ? a : b).mailer.send(resetTo(to))));
    await until('all 30', async () => (await a.mailer.counts()).sent === 30, 40_000);
    await new Promise((resolve) => setTimeout(resolve, 100)); // room for a duplicate to show up
    const delivered = smtp.received.flatMap((message) => message.envelopeTo).sort();
    expect(delivered).toEqual([...recipients].sort());
    expect((await rows()).every((row) => row.attempts === 1)).toBe(true);
  }, 60_000);
});

describe('what the table holds', () => {
  it('keeps the payload sealed, then wipes it once the message is sent', async () => {
    const { mailer } = mailerFor({ MAIL_TRANSPORT: 'outbox' });
    const name = 'Grace Brewster Murray Hopper';
    await mailer.send(resetTo('sealed@example.test', name));

    const { rows: raw } = await t.pool.query<{ hex: string; escaped: string }>(
      `SELECT payload::text AS hex, encode(payload, 'escape') AS escaped FROM mail_outbox`,
    );
    const stored = raw[0];
    expect(stored).toBeDefined();
    for (const secret of [TOKEN, name, RESET_LINK]) {
      expect(stored?.escaped).not.toContain(secret);
      expect(stored?.hex).not.toContain(Buffer.from(secret).toString('hex'));
      expect(stored?.hex).not.toContain(secret);
    }

    await mailer.sendDue();
    const [row] = await rows();
    expect(row?.sent_at).toBeInstanceOf(Date);
    expect(row?.payload).toBeNull();
  });

  it('still sends mail queued before SESSION_SECRET was rotated', async () => {
    const smtp = await smtpServer();
    const oldSecret = 'the-old-secret-that-is-long-enough-000000';
    const before = mailerFor({ SMTP_URL: smtp.url }, { secrets: [oldSecret] });
    await before.mailer.send(resetTo('rotated@example.test'));
    const after = mailerFor({ SMTP_URL: smtp.url }, { secrets: [TEST_SECRET, oldSecret] });
    await after.mailer.sendDue();
    expect(smtp.received).toHaveLength(1);
  });

  it('fails a payload no secret opens at once (no retries), logged with its id', async () => {
    const smtp = await smtpServer();
    const before = mailerFor({ SMTP_URL: smtp.url }, { secrets: ['a-secret-nobody-has-any-more-00000000000'] });
    const id = await before.mailer.send(resetTo('lost-key@example.test'));
    const after = mailerFor({ SMTP_URL: smtp.url });
    await after.mailer.sendDue();
    expect(smtp.received).toHaveLength(0);
    const [row] = await rows();
    expect(row).toMatchObject({ id, attempts: 1, payload: null });
    expect(row?.failed_at).toBeInstanceOf(Date);
    expect(after.logs.join('')).toMatch(/"level":50.*"mailId":\d+.*giving up/);
  });

  it('refuses a payload moved onto another row', async () => {
    const { mailer, logs } = mailerFor({ MAIL_TRANSPORT: 'outbox' });
    await mailer.send(resetTo('victim@example.test'));
    await mailer.send(resetTo('attacker@example.test'));
    // Someone with write access copies the victim's sealed payload onto their own row.
    await t.pool.query(
      `UPDATE mail_outbox SET payload = (SELECT payload FROM mail_outbox WHERE recipient = 'victim@example.test')
        WHERE recipient = 'attacker@example.test'`,
    );
    await mailer.sendDue();
    expect(await mailer.counts()).toEqual({ pending: 0, sent: 1, failed: 1 });
    expect(logs.join('')).not.toMatch(/attacker@example\.test.*written to outbox/);
  });
});

describe('mail templates', () => {
  it('render the product name, a plain explanation and what to do if it was not you, for every template', () => {
    const renderer = mailRenderer(PUBLIC_URL);
    for (const template of TEMPLATES) {
      const mail = renderer.render(template, EXAMPLES[template].data);
      expect(mail.subject).toContain('Gatehouse');
      expect(mail.text).toMatch(/If this wasn't you/);
      expect(mail.html).toMatch(/If this wasn&#39;t you|If this wasn't you/);
      expect(mail.html).toMatch(/^<!doctype html>/);
    }
  });
});
