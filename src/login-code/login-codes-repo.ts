import type { Db } from '../db/database.js';

/** A try at a code: the row as it was once the try was counted. */
export interface CodeTry {
  readonly userId: number;
  readonly email: string;
  readonly codeMac: Buffer;
  /** Tries counted so far, this one included. */
  readonly tries: number;
}

/**
 * Every SQL statement on login_codes. Times come from the app's clock (`now`), as the throttle's
 * do, so every instance (and a test's clock) agrees on when a code runs out.
 */
export function loginCodesRepo(db: Db) {
  return {
    /** A code for the browser whose nonce hashes to `requestHash` (a repeated request replaces its code). */
    async insert(requestHash: Buffer, userId: number, email: string, codeMac: Buffer, expiresAt: Date): Promise<void> {
      await db.query(
        `INSERT INTO login_codes (request_hash, user_id, email, code_mac, expires_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (request_hash) DO UPDATE SET user_id = EXCLUDED.user_id, email = EXCLUDED.email,
           code_mac = EXCLUDED.code_mac, tries = 0, created_at = now(), expires_at = EXCLUDED.expires_at`,
        [requestHash, userId, email, codeMac, expiresAt],
      );
    },

    /**
     * Counts a try at the code before it is checked (one statement, so parallel tries cannot
     * slip past the limit): null when there is no live code, or it has had `maxTries` already.
     */
    async countTry(requestHash: Buffer, now: Date, maxTries: number): Promise<CodeTry | null> {
      const { rows } = await db.query<{ user_id: number; email: string; code_mac: Buffer; tries: number }>(
        `UPDATE login_codes SET tries = tries + 1
          WHERE request_hash = $1 AND expires_at > $2 AND tries < $3
         RETURNING user_id, email, code_mac, tries`,
        [requestHash, now, maxTries],
      );
      const row = rows[0];
      return row ? { userId: row.user_id, email: row.email, codeMac: row.code_mac, tries: row.tries } : null;
    },

    /** Uses the code up; false when another request used it first. */
    async take(requestHash: Buffer): Promise<boolean> {
      const { rowCount } = await db.query('DELETE FROM login_codes WHERE request_hash = $1', [requestHash]);
      return rowCount === 1;
    },

    /** Removes codes that ran out before `now`; how many. */
    async deleteExpired(now: Date): Promise<number> {
      const { rowCount } = await db.query('DELETE FROM login_codes WHERE expires_at <= $1', [now]);
      return rowCount ?? 0;
    },
  };
}

export type LoginCodesRepo = ReturnType<typeof loginCodesRepo>;
