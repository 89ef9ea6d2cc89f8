import type { Db } from '../db/database.js';

export type TokenPurpose = 'password_reset' | 'verify_email';

export interface UsedToken {
  readonly userId: number;
  /** The address the link was sent to. */
  readonly email: string;
}

/**
 * Every SQL statement on account_tokens; tokens arrive here already hashed.
 * A user holds at most one live link per purpose (a new one replaces the old),
 * so the table never grows past two rows per user and needs no sweeping.
 */
export function accountTokensRepo(db: Db) {
  return {
    /** Stores a new link's hash and voids the user's older links of the same purpose (only the newest works). */
    async replace(userId: number, purpose: TokenPurpose, tokenHash: Buffer, email: string, ttlSeconds: number) {
      await db.query(
        `WITH voided AS (DELETE FROM account_tokens WHERE user_id = $1 AND purpose = $2)
         INSERT INTO account_tokens (user_id, purpose, token_hash, email, expires_at)
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))`,
        [userId, purpose, tokenHash, email, ttlSeconds],
      );
    },

    /** The live token's owner, without using it up. */
    async peek(purpose: TokenPurpose, tokenHash: Buffer): Promise<UsedToken | null> {
      const { rows } = await db.query<{ user_id: number; email: string }>(
        'SELECT user_id, email FROM account_tokens WHERE token_hash = $1 AND purpose = $2 AND expires_at > now()',
        [tokenHash, purpose],
      );
      return rows[0] ? { userId: rows[0].user_id, email: rows[0].email } : null;
    },

    /** Uses the token up in one statement: of two requests at once, only one gets it. */
    async consume(purpose: TokenPurpose, tokenHash: Buffer): Promise<UsedToken | null> {
      const { rows } = await db.query<{ user_id: number; email: string; live: boolean }>(
        'DELETE FROM account_tokens WHERE token_hash = $1 AND purpose = $2 RETURNING user_id, email, expires_at > now() AS live',
        [tokenHash, purpose],
      );
      const row = rows[0];
      return row?.live ? { userId: row.user_id, email: row.email } : null;
    },

    async voidAll(userId: number, purpose: TokenPurpose): Promise<void> {
      await db.query('DELETE FROM account_tokens WHERE user_id = $1 AND purpose = $2', [userId, purpose]);
    },
  };
}

export type AccountTokensRepo = ReturnType<typeof accountTokensRepo>;
