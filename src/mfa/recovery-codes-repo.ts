import type { Db } from '../db/database.js';

/** Every SQL statement on recovery_codes; codes arrive here already hashed. */
export function recoveryCodesRepo(db: Db) {
  return {
    /** The user's codes become exactly these (the old ones stop working), in one statement. */
    async replace(userId: number, hashes: readonly Buffer[]): Promise<void> {
      await db.query(
        `WITH gone AS (DELETE FROM recovery_codes WHERE user_id = $1)
         INSERT INTO recovery_codes (user_id, code_hash) SELECT $1, unnest($2::bytea[])`,
        [userId, hashes],
      );
    },

    /** Uses a code up: of two requests with one code, exactly one gets true. */
    async use(userId: number, hash: Buffer): Promise<boolean> {
      const { rowCount } = await db.query('DELETE FROM recovery_codes WHERE user_id = $1 AND code_hash = $2', [
        userId,
        hash,
      ]);
      return (rowCount ?? 0) > 0;
    },

    async count(userId: number): Promise<number> {
      const { rows } = await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM recovery_codes WHERE user_id = $1',
        [userId],
      );
      return rows[0]?.n ?? 0;
    },

    async deleteAll(userId: number): Promise<number> {
      const { rowCount } = await db.query('DELETE FROM recovery_codes WHERE user_id = $1', [userId]);
      return rowCount ?? 0;
    },
  };
}

export type RecoveryCodesRepo = ReturnType<typeof recoveryCodesRepo>;
