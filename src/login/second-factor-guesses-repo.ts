import type { Db } from '../db/database.js';

/** An account's count of wrong second-factor codes, as the schedule reads it. */
export interface GuessState {
  /** Wrong codes from untrusted browsers since the last right one (or password change). */
  readonly failures: number;
  /** No guess from an untrusted browser before this; null when the next one is free. */
  readonly nextAt: Date | null;
}

const DAY = "interval '1 day'";

/**
 * Every SQL statement on second_factor_guesses. Times come from the app's clock (as the
 * rate_limits table's do), so every instance and a test's clock agree on them.
 */
export function secondFactorGuessesRepo(db: Db) {
  return {
    /** The account's count, its row made when it has none (and locked for this statement only). */
    async read(userId: number): Promise<GuessState> {
      const { rows } = await db.query<{ failures: number; next_at: Date | null }>(
        `INSERT INTO second_factor_guesses (user_id) VALUES ($1)
         ON CONFLICT (user_id) DO UPDATE SET user_id = EXCLUDED.user_id
         RETURNING failures, next_at`,
        [userId],
      );
      const row = rows[0];
      return { failures: row?.failures ?? 0, nextAt: row?.next_at ?? null };
    },

    /**
     * Takes a guess: the count moves from `seen` (what read() returned) to one more, with the next
     * guess not before `nextAt`. False when another request took one meanwhile (read again).
     */
    async take(userId: number, seen: number, nextAt: Date | null): Promise<boolean> {
      const { rowCount } = await db.query(
        'UPDATE second_factor_guesses SET failures = failures + 1, next_at = $3 WHERE user_id = $1 AND failures = $2',
        [userId, seen, nextAt],
      );
      return rowCount === 1;
    },

    /** A right code, or a new password: the count starts again (the day's count and warning stay). */
    async clear(userId: number): Promise<void> {
      await db.query('UPDATE second_factor_guesses SET failures = 0, next_at = NULL WHERE user_id = $1', [userId]);
    },

    /**
     * A wrong code at `now`, from any browser: counted in the day that started with the first of
     * them (a new day starts with the first wrong code a day after). How many the day has now.
     */
    async countInDay(userId: number, now: Date): Promise<number> {
      const { rows } = await db.query<{ day_failures: number }>(
        `INSERT INTO second_factor_guesses AS g (user_id, day_started_at, day_failures) VALUES ($1, $2, 1)
         ON CONFLICT (user_id) DO UPDATE SET
           day_failures = CASE WHEN g.day_started_at IS NULL OR g.day_started_at <= $2::timestamptz - ${DAY}
                               THEN 1 ELSE g.day_failures + 1 END,
           day_started_at = CASE WHEN g.day_started_at IS NULL OR g.day_started_at <= $2::timestamptz - ${DAY}
                                 THEN $2 ELSE g.day_started_at END
         RETURNING day_failures`,
        [userId, now],
      );
      return rows[0]?.day_failures ?? 1;
    },

    /** True for the one request that may warn the owner at `now`: none was sent in the day before. */
    async claimWarning(userId: number, now: Date): Promise<boolean> {
      const { rowCount } = await db.query(
        `UPDATE second_factor_guesses SET warned_at = $2
          WHERE user_id = $1 AND (warned_at IS NULL OR warned_at <= $2::timestamptz - ${DAY})`,
        [userId, now],
      );
      return rowCount === 1;
    },
  };
}

export type SecondFactorGuessesRepo = ReturnType<typeof secondFactorGuessesRepo>;
