import type { Db } from '../db/database.js';

export type TokenPurpose = 'password_reset' | 'verify_email' | 'cancel_email_change';

export interface UsedToken {
  readonly userId: number;
  /** The address the link was sent to. */
  readonly email: string;
  /** For cancel_email_change: the address the change was to. */
  readonly targetEmail: string | null;
}

interface TokenRow {
  user_id: number;
  email: string;
  target_email: string | null;
}

const toToken = (row: TokenRow): UsedToken => ({
  userId: row.user_id,
  email: row.email,
  targetEmail: row.target_email,
});

/**
 * Every SQL statement on account_tokens; tokens arrive here already hashed.
 * A user holds at most one live link per purpose (a new one replaces the old),
 * so the table never grows past three rows per user and needs no sweeping.
 */
export function accountTokensRepo(db: Db) {
  return {
    /** Stores a new link's hash and voids the user's older links of the same purpose (only the newest works). */
    async replace(
      userId: number,
      purpose: TokenPurpose,
      tokenHash: Buffer,
      email: string,
      ttlSeconds: number,
      targetEmail: string | null = null,
    ) {
      await db.query(
        `WITH voided AS (DELETE FROM account_tokens WHERE user_id = $1 AND purpose = $2)
         INSERT INTO account_tokens (user_id, purpose, token_hash, email, expires_at, target_email)
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5), $6)`,
        [userId, purpose, tokenHash, email, ttlSeconds, targetEmail],
      );
    },

    /** The live token's owner, without using it up. */
    async peek(purpose: TokenPurpose, tokenHash: Buffer): Promise<UsedToken | null> {
      const { rows } = await db.query<TokenRow>(
        `SELECT user_id, email, target_email FROM account_tokens
          WHERE token_hash = $1 AND purpose = $2 AND expires_at > now()`,
        [tokenHash, purpose],
      );
      return rows[0] ? toToken(rows[0]) : null;
    },

    /** Uses the token up in one statement: of two requests at once, only one gets it. */
    async consume(purpose: TokenPurpose, tokenHash: Buffer): Promise<UsedToken | null> {
      const { rows } = await db.query<TokenRow & { live: boolean }>(
        `DELETE FROM account_tokens WHERE token_hash = $1 AND purpose = $2
         RETURNING user_id, email, target_email, expires_at > now() AS live`,
        [tokenHash, purpose],
      );
      const row = rows[0];
      return row?.live ? toToken(row) : null;
    },

    async voidAll(userId: number, purpose: TokenPurpose): Promise<void> {
      await db.query('DELETE FROM account_tokens WHERE user_id = $1 AND purpose = $2', [userId, purpose]);
    },

    /**
     * Voids every link for an address change that has not happened: verification links for an
     * address that is not the account's own, and the links that would cancel such a change.
     * A cancel link for a change that did happen stays: it is how the owner takes the account back.
     */
    async voidPendingChangeLinks(userId: number): Promise<void> {
      await db.query(
        `DELETE FROM account_tokens t USING users u
          WHERE t.user_id = $1 AND u.id = t.user_id
            AND ((t.purpose = 'verify_email' AND lower(t.email) <> lower(u.email))
              OR (t.purpose = 'cancel_email_change' AND lower(t.target_email) <> lower(u.email)))`,
        [userId],
      );
    },
  };
}

export type AccountTokensRepo = ReturnType<typeof accountTokensRepo>;
