import type { Db } from '../db/database.js';

/** Every SQL statement on known_browsers: which browsers (hashed) each user has signed in from. */
export function knownBrowsersRepo(db: Db) {
  return {
    /**
     * Records a sign-in from this browser. True when the browser is new to a
     * user who already had others (their first browser is not news to them).
     */
    async seen(userId: number, fingerprint: Buffer): Promise<boolean> {
      const { rows } = await db.query<{ inserted: boolean; others: boolean }>(
        `WITH others AS (SELECT EXISTS (SELECT 1 FROM known_browsers WHERE user_id = $1 AND fingerprint <> $2) AS others),
              upsert AS (
                INSERT INTO known_browsers (user_id, fingerprint) VALUES ($1, $2)
                ON CONFLICT (user_id, fingerprint) DO UPDATE SET last_seen_at = now()
                RETURNING (xmax = 0) AS inserted)
         SELECT upsert.inserted, others.others FROM upsert, others`,
        [userId, fingerprint],
      );
      return rows[0] ? rows[0].inserted && rows[0].others : false;
    },

    /** When the user first and last signed in from each browser (the export; never the fingerprint). */
    async listFor(userId: number): Promise<Array<{ firstSeenAt: Date; lastSeenAt: Date }>> {
      const { rows } = await db.query<{ first_seen_at: Date; last_seen_at: Date }>(
        'SELECT first_seen_at, last_seen_at FROM known_browsers WHERE user_id = $1 ORDER BY first_seen_at',
        [userId],
      );
      return rows.map((row) => ({ firstSeenAt: row.first_seen_at, lastSeenAt: row.last_seen_at }));
    },

    /** Forgets a browser (its sign-in notice could not be sent: the next sign-in from it is news again). */
    async forget(userId: number, fingerprint: Buffer): Promise<void> {
      await db.query('DELETE FROM known_browsers WHERE user_id = $1 AND fingerprint = $2', [userId, fingerprint]);
    },
  };
}

export type KnownBrowsersRepo = ReturnType<typeof knownBrowsersRepo>;
