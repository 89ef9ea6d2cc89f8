import type { Db } from '../db/database.js';

/** Every SQL statement on webauthn_challenges_used: the login ceremonies' challenges already answered. */
export function usedChallengesRepo(db: Db) {
  return {
    /**
     * Marks a challenge (its hash) as answered, until `expiresAt`: true the first time, false when
     * it was answered before (a replayed answer). One statement, so of two at once one gets true.
     */
    async markUsed(hash: Buffer, expiresAt: Date): Promise<boolean> {
      const { rowCount } = await db.query(
        `INSERT INTO webauthn_challenges_used (challenge_hash, expires_at) VALUES ($1, $2)
         ON CONFLICT (challenge_hash) DO NOTHING`,
        [hash, expiresAt],
      );
      return (rowCount ?? 0) > 0;
    },

    /** Forgets challenges that could no longer be answered anyway; how many. */
    async deleteExpired(): Promise<number> {
      const { rowCount } = await db.query('DELETE FROM webauthn_challenges_used WHERE expires_at < now()');
      return rowCount ?? 0;
    },
  };
}

export type UsedChallengesRepo = ReturnType<typeof usedChallengesRepo>;
