import type { FlowDeps } from './flow-deps.js';
import { recorder } from '../audit/auth-events-repo.js';
import type { Origin } from '../users/origin.js';
import type { PasswordHasher } from '../users/passwords.js';
import { type User, withoutHash } from '../users/users-repo.js';
import type { Caller } from './caller.js';
import type { LockOut } from './lock-out.js';
import type { PasswordGuard } from './password-guard.js';
import { type Result, done, refused } from './result.js';

export interface PasswordChangeFlowDeps extends FlowDeps {
  readonly passwords: PasswordHasher;
  readonly guard: Pick<PasswordGuard, 'recheck'>;
  readonly lockOut: LockOut;
  readonly notices: { passwordChanged(user: User, origin: Origin): Promise<void> };
}

/**
 * ASVS 7.4.3: a new password, with the current one (counted like a login), ends every other
 * session of the user but `keepSid`, the caller's (who then gives that session a new id). Reset
 * links mailed before it are void, a pending email change is cancelled, the browsers trusted
 * before are trusted no more, wrong codes guessed with the old password are forgotten, and the
 * owner is told: all in one transaction.
 */
export function passwordChangeFlow({ passwords, events, guard, lockOut, atomically, notices }: PasswordChangeFlowDeps) {
  const record = recorder(events);
  return {
    async changePassword(
      user: User,
      { current, next, keepSid }: { current: string; next: string; keepSid: string },
      caller: Caller,
    ): Promise<Result<{ ended: number }, 'bad-password'>> {
      const found = await guard.recheck(user, current, caller, 'password change');
      if (!found) return refused('bad-password');
      const passwordHash = await passwords.hash(next);
      const { origin } = caller;
      return atomically(async () => {
        await lockOut.newPassword(user.id, passwordHash);
        await record('password_changed', user.id, origin);
        const ended = await lockOut.secureAccount(user.id, origin, 'after a password change', { keepSid });
        if (ended > 0)
          await record('sessions_ended', user.id, origin, `${ended} other session(s), after a password change`);
        await notices.passwordChanged(withoutHash(found), origin);
        return done({ ended });
      });
    },
  };
}

export type PasswordChangeFlow = ReturnType<typeof passwordChangeFlow>;
