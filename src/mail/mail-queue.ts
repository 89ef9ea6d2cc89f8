import type pg from 'pg';
import { z } from 'zod';
import type { Config } from '../config.js';
import type { Db } from '../db/database.js';
import type { Logger } from '../http/logging.js';
import { type ClaimedMail, type MailOutboxRepo, type OutboxCounts, mailOutboxRepo } from './mail-outbox-repo.js';
import { sealedBox } from '../crypto/sealed-box.js';
import {
  type JobData,
  type JobName,
  type TemplateData,
  type TemplateName,
  isJobName,
  isTemplateName,
  jobSchemas,
  mailRenderer,
  templateSchemas,
} from './mail-templates.js';
import { MAX_DELIVERY_SECONDS, type MailTransport, type OutgoingMail, createMailTransport } from './mail-transport.js';

export type { JobData, JobName, TemplateData, TemplateName } from './mail-templates.js';

/** One message for a flow to send: the template's data is checked against its schema. */
export interface MailRequest<T extends TemplateName = TemplateName> {
  readonly to: string;
  readonly template: T;
  readonly data: TemplateData<T>;
}

export interface SendOptions {
  /**
   * A client inside the caller's transaction: the message is then queued only if that transaction
   * commits (with the token it carries). The worker sees it at its next poll, after the commit.
   */
  readonly db?: Db;
}

export interface Mailer {
  /**
   * Queues a message and returns its outbox id; it never waits on SMTP. Throws (before queueing)
   * when the address or the template's data is wrong: that is a bug in the caller.
   */
  send<T extends TemplateName>(request: MailRequest<T>, options?: SendOptions): Promise<number>;
  /**
   * Queues a job for the worker (see jobSchemas): sealed and kept like a message, handed to its
   * handler instead of a transport, retried like a message when the handler fails, and deleted when done.
   */
  queueJob<J extends JobName>(job: J, data: z.input<(typeof jobSchemas)[J]>): Promise<number>;
  /** Registers what the worker does with a job (one handler per job; the flow that owns it). */
  onJob<J extends JobName>(job: J, handler: (data: JobData<J>) => Promise<void>): void;
  /** Starts this process's worker: it polls for due mail, and looks at once after each send(). */
  start(): void;
  /** Stops polling and waits for the message in flight; the rest stays queued for the next start. */
  stop(): Promise<void>;
  /** Sends what is due now and resolves when that is done (tests, scripts): the worker's loop, once. */
  sendDue(): Promise<void>;
  counts(): Promise<OutboxCounts>;
}

/** The worker's timing; the defaults suit production, tests shorten them. */
export interface MailerTiming {
  /** How often the worker looks for due mail when nothing nudges it. */
  readonly pollIntervalMs: number;
  /** The first retry waits this long, each next one twice as long as the one before... */
  readonly retryBaseMs: number;
  /** ...up to this. */
  readonly retryMaxMs: number;
  /** Tries per message, the first included; after the last the message is logged as failed. */
  readonly maxAttempts: number;
  /** How many due messages one claim takes. */
  readonly batchSize: number;
}

export const DEFAULT_TIMING: MailerTiming = {
  pollIntervalMs: 5_000,
  retryBaseMs: 30_000,
  retryMaxMs: 60 * 60_000,
  maxAttempts: 5,
  batchSize: 10,
};

export interface MailerDeps {
  readonly config: Config;
  readonly pool: pg.Pool;
  readonly logger: Logger;
  /** The session secrets (see http/session-secret.ts): the first seals payloads, all open them. */
  readonly secrets: readonly string[];
  readonly timing?: Partial<MailerTiming>;
  /** Where mail goes; by default SMTP or the outbox directory, as the config says. */
  readonly transport?: MailTransport;
}

// A sent message stays this long as a record (without its payload); failed ones are kept.
const KEEP_SENT_DAYS = 30;
const PRUNE_EVERY_MS = 60 * 60_000;
const LAST_ERROR_MAX = 500;

const recipient = z.email().max(254);

/** The wait before try number `attempt + 1`: base × 2^(attempt − 1), capped. */
export function retryDelayMs(attempt: number, timing: Pick<MailerTiming, 'retryBaseMs' | 'retryMaxMs'>): number {
  return Math.min(timing.retryBaseMs * 2 ** Math.max(0, attempt - 1), timing.retryMaxMs);
}

function describe(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.replace(/\s+/g, ' ').slice(0, LAST_ERROR_MAX);
}

export function createMailer({ config, pool, logger: parentLogger, secrets, timing, transport }: MailerDeps): Mailer {
  const t: MailerTiming = { ...DEFAULT_TIMING, ...timing };
  const logger = parentLogger.child({ component: 'mail' });
  const repo: MailOutboxRepo = mailOutboxRepo(pool);
  // Payloads hold one-time links: sealed at rest, and wiped once sent.
  const sealer = sealedBox(secrets, 'gatehouse mail-outbox payload v1');
  const renderer = mailRenderer(config.publicUrl);
  let outgoing: MailTransport | undefined = transport;
  // The sealed payload is bound to its row's address and template.
  const context = (to: string, template: string) => `${to}\n${template}`;

  let running = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;
  let again = false;
  let lastPrune = 0;
  // Handlers are typed per job by onJob(); stored under the common shape.
  const jobHandlers = new Map<JobName, (data: unknown) => Promise<void>>();

  async function giveUp(mail: ClaimedMail, reason: string): Promise<void> {
    await repo.markFailed(mail.id, reason);
    // The id and template say which message; its content (a live link) never reaches the log.
    logger.error(
      { mailId: mail.id, template: mail.template, attempts: mail.attempts, error: reason },
      'mail could not be sent; giving up',
    );
  }

  /** The row's data, opened; throws when no later try could open it (a bug, a retired secret). */
  function open(mail: ClaimedMail): unknown {
    if (mail.payload === null) throw new Error('payload missing');
    return JSON.parse(sealer.open(mail.payload, context(mail.recipient, mail.template)).toString('utf8'));
  }

  /** What the row asks for: a message as it will go out, or a job and its handler's work. */
  function prepare(mail: ClaimedMail): { kind: 'mail'; message: OutgoingMail } | { kind: 'job'; run(): Promise<void> } {
    if (isJobName(mail.template)) {
      const handler = jobHandlers.get(mail.template);
      if (!handler) throw new Error(`no handler for job ${mail.template}`);
      const data = jobSchemas[mail.template].parse(open(mail));
      return { kind: 'job', run: () => handler(data) };
    }
    if (!isTemplateName(mail.template)) throw new Error(`unknown template ${mail.template}`);
    const message = {
      id: mail.id,
      to: mail.recipient,
      template: mail.template,
      ...renderer.render(mail.template, open(mail)),
    };
    return { kind: 'mail', message };
  }

  async function deliverOne(mail: ClaimedMail): Promise<void> {
    let work: ReturnType<typeof prepare>;
    try {
      work = prepare(mail);
    } catch (error) {
      await giveUp(mail, describe(error));
      return;
    }
    try {
      if (work.kind === 'job') {
        await work.run();
        // A job's row held what a visitor typed (an address that may have no account): gone once done.
        await repo.remove(mail.id);
        return;
      }
      outgoing ??= await createMailTransport(config, logger);
      await outgoing.deliver(work.message);
    } catch (error) {
      const reason = describe(error);
      if (mail.attempts >= mail.maxAttempts) {
        await giveUp(mail, reason);
      } else {
        const delayMs = retryDelayMs(mail.attempts, t);
        await repo.reschedule(mail.id, delayMs / 1000, reason);
        logger.warn(
          {
            mailId: mail.id,
            template: mail.template,
            attempts: mail.attempts,
            retryInSeconds: delayMs / 1000,
            error: reason,
          },
          'mail not sent; will retry',
        );
      }
      return;
    }
    // Should this fail, the lease lapses and the message goes again: at least once, never lost.
    await repo.markSent(mail.id);
  }

  /** Claims and sends until nothing is due. */
  async function drain(): Promise<void> {
    if (Date.now() - lastPrune > PRUNE_EVERY_MS) {
      lastPrune = Date.now();
      await repo.deleteSentBefore(KEEP_SENT_DAYS);
    }
    for (;;) {
      const claimed = await repo.claimDue(t.batchSize, MAX_DELIVERY_SECONDS * 2);
      // One at a time: stop() then has at most one message to wait for, and SMTP servers
      // throttle bursts anyway. The rest of the batch is leased to us meanwhile.
      for (const mail of claimed) await deliverOne(mail);
      if (claimed.length < t.batchSize) return;
    }
  }

  /**
   * Checks a message's or a job's address and data (throwing before anything is queued), seals
   * the data to its row's address and name, queues it `into` the outbox, and nudges the worker.
   */
  async function enqueue(
    to: string,
    name: TemplateName | JobName,
    schema: z.ZodType,
    data: unknown,
    into: MailOutboxRepo = repo,
  ): Promise<number> {
    const address = recipient.parse(to);
    const parsed: unknown = schema.parse(data);
    const payload = sealer.seal(JSON.stringify(parsed), context(address, name));
    const id = await into.enqueue({ recipient: address, template: name, payload, maxAttempts: t.maxAttempts });
    if (running) schedule(0);
    return id;
  }

  function schedule(delayMs: number): void {
    clearTimeout(timer);
    if (running) timer = setTimeout(tick, delayMs);
  }

  function tick(): void {
    if (inFlight) {
      again = true;
      return;
    }
    again = false;
    inFlight = drain()
      .catch((error: unknown) => {
        // The database is away, say: the mail stays queued and the next poll tries again.
        logger.warn({ error: describe(error) }, 'mail worker could not reach the outbox; will try again');
      })
      .finally(() => {
        inFlight = undefined;
        schedule(again ? 0 : t.pollIntervalMs);
      });
  }

  return {
    send: ({ to, template, data }, options = {}) =>
      enqueue(to, template, templateSchemas[template], data, options.db ? mailOutboxRepo(options.db) : repo),
    queueJob: (job, data) => enqueue(data.email, job, jobSchemas[job], data),
    onJob(job, handler) {
      jobHandlers.set(job, handler as (data: unknown) => Promise<void>);
    },
    start() {
      if (running) return;
      running = true;
      schedule(0);
    },
    async stop() {
      running = false;
      clearTimeout(timer);
      await inFlight;
      outgoing?.close();
      if (transport === undefined) outgoing = undefined;
    },
    async sendDue() {
      while (inFlight) await inFlight;
      await drain();
    },
    counts: () => repo.counts(),
  };
}
