import { createHash } from 'node:crypto';
import type { Origin } from '../users/origin.js';
import type { UsersRepo } from '../users/users-repo.js';
import type { AuthEventsRepo } from './auth-events-repo.js';

/** A refusal by a throttle: which count refused (a hashed key) and when its window ends (ms since the epoch). */
export interface Refusal {
  readonly key: string;
  readonly resetsAt: number;
}

/**
 * The audit trail's record of attempts refused by a limit: one row per count, window and account
 * named, with how many attempts it stands for, so a flood of refusals is a line, not a flood of
 * rows, and refusals naming two accounts land in each one's history.
 */
export function refusalLog(events: Pick<AuthEventsRepo, 'recordRepeated'>, users: Pick<UsersRepo, 'findByEmail'>) {
  return {
    /** An attempt over a limit, naming the targeted account when `email` is one. */
    async record(origin: Origin, refusal: Refusal, email?: string): Promise<void> {
      const found = email ? await users.findByEmail(email) : null;
      const dedupeKey = createHash('sha256')
        .update(`${refusal.key}\u0000${Math.round(refusal.resetsAt / 5000)}\u0000${found?.id ?? ''}`)
        .digest();
      await events.recordRepeated(
        { event: 'throttled', userId: found?.id ?? null, ...origin, detail: refusal.key.split(':')[0] ?? null },
        dedupeKey,
      );
    },
  };
}

export type RefusalLog = ReturnType<typeof refusalLog>;
