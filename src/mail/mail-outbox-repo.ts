import type { Db } from '../db/database.js';

/** A message a worker has claimed: it holds the lease until `locked_until`. */
export interface ClaimedMail {
  readonly id: number;
  readonly recipient: string;
  readonly template: string;
  readonly payload: Buffer | null;
  /** Counting this one. */
  readonly attempts: number;
  readonly maxAttempts: number;
}

export interface OutboxCounts {
  readonly pending: number;
  readonly sent: number;
  readonly failed: number;
}

interface ClaimedRow {
  id: number;
  recipient: string;
  template: string;
  payload: Buffer | null;
  attempts: number;
  max_attempts: number;
}

/** Every SQL statement on mail_outbox, parameterised. */
export function mailOutboxRepo(db: Db) {
  return {
    async enqueue(mail: {
      recipient: string;
      template: string;
      payload: Buffer;
      maxAttempts: number;
    }): Promise<number> {
      const { rows } = await db.query<{ id: number }>(
        `INSERT INTO mail_outbox (recipient, template, payload, max_attempts) VALUES ($1, $2, $3, $4) RETURNING id`,
        [mail.recipient, mail.template, mail.payload, mail.maxAttempts],
      );
      return (rows[0] as { id: number }).id;
    },

    /**
     * Takes up to `limit` due messages in one statement. SKIP LOCKED lets workers in other
     * processes claim at the same moment without waiting on each other or taking the same row;
     * the lease (locked_until) keeps the row theirs after the statement ends, and lapses if the
     * worker dies, so someone else sends it later. One statement, no transaction held open:
     * the embedded database runs every connection on one session, where that is the only safe kind.
     */
    async claimDue(limit: number, leaseSeconds: number): Promise<ClaimedMail[]> {
      const { rows } = await db.query<ClaimedRow>(
        `UPDATE mail_outbox
            SET locked_until = now() + make_interval(secs => $2), attempts = attempts + 1
          WHERE id IN (
                SELECT id FROM mail_outbox
                 WHERE sent_at IS NULL AND failed_at IS NULL AND run_at <= now()
                   AND (locked_until IS NULL OR locked_until <= now())
                 ORDER BY run_at, id
                 LIMIT $1
                   FOR UPDATE SKIP LOCKED)
        RETURNING id, recipient, template, payload, attempts, max_attempts`,
        [limit, leaseSeconds],
      );
      return rows
        .map((row) => ({
          id: row.id,
          recipient: row.recipient,
          template: row.template,
          payload: row.payload,
          attempts: row.attempts,
          maxAttempts: row.max_attempts,
        }))
        .sort((a, b) => a.id - b.id);
    },

    /** Sent: the payload (with its tokens) is wiped; the row stays as a record until pruned. */
    async markSent(id: number): Promise<void> {
      await db.query(
        `UPDATE mail_outbox SET sent_at = now(), payload = NULL, locked_until = NULL, last_error = NULL WHERE id = $1`,
        [id],
      );
    },

    /** Failed this time: tried again after `delaySeconds`. */
    async reschedule(id: number, delaySeconds: number, error: string): Promise<void> {
      await db.query(
        `UPDATE mail_outbox
            SET run_at = now() + make_interval(secs => $2), locked_until = NULL, last_error = $3
          WHERE id = $1`,
        [id, delaySeconds, error],
      );
    },

    /** A job that is done: nothing of it is kept. */
    async remove(id: number): Promise<void> {
      await db.query('DELETE FROM mail_outbox WHERE id = $1', [id]);
    },

    /** Given up: kept (without its payload) so the failure can be seen, never retried. */
    async markFailed(id: number, error: string): Promise<void> {
      await db.query(
        `UPDATE mail_outbox SET failed_at = now(), payload = NULL, locked_until = NULL, last_error = $2 WHERE id = $1`,
        [id, error],
      );
    },

    /** Sent messages are only a record once delivered; failed ones stay for someone to look at. */
    async deleteSentBefore(days: number): Promise<number> {
      const { rowCount } = await db.query(`DELETE FROM mail_outbox WHERE sent_at < now() - make_interval(days => $1)`, [
        days,
      ]);
      return rowCount ?? 0;
    },

    async counts(): Promise<OutboxCounts> {
      const { rows } = await db.query<{ pending: number; sent: number; failed: number }>(
        `SELECT count(*) FILTER (WHERE sent_at IS NULL AND failed_at IS NULL)::int AS pending,
                count(*) FILTER (WHERE sent_at IS NOT NULL)::int AS sent,
                count(*) FILTER (WHERE failed_at IS NOT NULL)::int AS failed
           FROM mail_outbox`,
      );
      const row = rows[0];
      return { pending: row?.pending ?? 0, sent: row?.sent ?? 0, failed: row?.failed ?? 0 };
    },
  };
}

export type MailOutboxRepo = ReturnType<typeof mailOutboxRepo>;
