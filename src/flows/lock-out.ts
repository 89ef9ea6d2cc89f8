import type { AuthEventsRepo } from '../audit/auth-events-repo.js';
import type { SecondFactorGuessesRepo } from '../login/second-factor-guesses-repo.js';
import type { SessionsRepo } from '../sessions/sessions-repo.js';
import type { AccountTokensRepo } from '../users/account-tokens-repo.js';
import type { Origin } from '../users/origin.js';
import { cancelPendingEmail } from '../users/pending-email.js';
import type { UsersRepo } from '../users/users-repo.js';

export interface LockOutDeps {
  readonly users: UsersRepo;
  readonly events: AuthEventsRepo;
  readonly sessions: SessionsRepo;
  readonly tokens: AccountTokensRepo;
  /** The account's count of wrong second-factor codes: guesses made with an old password are forgotten. */
  readonly codeGuesses: Pick<SecondFactorGuessesRepo, 'clear'>;
}

/**
 * The steps that lock out whoever else may hold an account, shared by the flows that secure it
 * (a password change or reset, signing out everywhere else, deactivation, an email change's
 * cancel link). Each runs inside its caller's transaction.
 */
export function accountLockOut({ users, events, sessions, tokens, codeGuesses }: LockOutDeps) {
  return {
    /**
     * Every session of the user but `keepSid` ends, then a pending email change is cancelled and
     * its links die (whoever had the password may have asked for it, and its link sits in their
     * mailbox). `ended`, when given, records the count before the cancellation is recorded. How
     * many sessions were still open.
     */
    async secureAccount(
      userId: number,
      origin: Origin,
      why: string,
      { keepSid = null, ended }: { keepSid?: string | null; ended?: (count: number) => Promise<void> } = {},
    ): Promise<number> {
      const count = await sessions.endAll(userId, keepSid);
      if (ended) await ended(count);
      await cancelPendingEmail({ users, tokens, events }, userId, origin, why);
      return count;
    },

    /**
     * A new password is in place (its hash): the device key changes with it (so browsers trusted
     * before are trusted no more), reset links mailed before are void, and wrong second-factor
     * codes guessed with the old one are forgotten.
     */
    async newPassword(userId: number, passwordHash: string): Promise<void> {
      await users.updatePasswordHash(userId, passwordHash);
      await tokens.voidAll(userId, 'password_reset');
      await codeGuesses.clear(userId);
    },
  };
}

export type LockOut = ReturnType<typeof accountLockOut>;
