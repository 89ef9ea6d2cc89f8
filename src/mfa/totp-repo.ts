import type { Db } from '../db/database.js';

export interface StoredTotp {
  /** The secret, sealed (see src/crypto/sealed-box.ts). */
  readonly secretSealed: Buffer;
  /** The last time step a code was accepted for: that step and earlier ones are refused. */
  readonly lastUsedStep: number;
  readonly createdAt: Date;
}

/** Every SQL statement on user_totp: a user's authenticator-app secret. */
export function totpRepo(db: Db) {
  return {
    async find(userId: number): Promise<StoredTotp | null> {
      const { rows } = await db.query<{ secret_sealed: Buffer; last_used_step: number; created_at: Date }>(
        'SELECT secret_sealed, last_used_step, created_at FROM user_totp WHERE user_id = $1',
        [userId],
      );
      const row = rows[0];
      return row
        ? { secretSealed: row.secret_sealed, lastUsedStep: row.last_used_step, createdAt: row.created_at }
        : null;
    },

    /** Turns the app on, with the step of the code that confirmed it already used; false when it was on. */
    async enable(userId: number, secretSealed: Buffer, usedStep: number): Promise<boolean> {
      const { rowCount } = await db.query(
        `INSERT INTO user_totp (user_id, secret_sealed, last_used_step) VALUES ($1, $2, $3)
         ON CONFLICT (user_id) DO NOTHING`,
        [userId, secretSealed, usedStep],
      );
      return (rowCount ?? 0) > 0;
    },

    /**
     * Records that a code for `step` was accepted, if no code for that step or a later one was:
     * one statement, so of two requests with the same code, exactly one gets true.
     */
    async useStep(userId: number, step: number): Promise<boolean> {
      const { rowCount } = await db.query(
        'UPDATE user_totp SET last_used_step = $2 WHERE user_id = $1 AND last_used_step < $2',
        [userId, step],
      );
      return (rowCount ?? 0) > 0;
    },

    /** True when the app was on. */
    async disable(userId: number): Promise<boolean> {
      const { rowCount } = await db.query('DELETE FROM user_totp WHERE user_id = $1', [userId]);
      return (rowCount ?? 0) > 0;
    },
  };
}

export type TotpRepo = ReturnType<typeof totpRepo>;
