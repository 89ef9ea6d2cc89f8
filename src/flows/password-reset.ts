import type { FlowDeps } from './flow-deps.js';
import { recorder } from '../audit/auth-events-repo.js';
import type { AccountTokensRepo } from '../users/account-tokens-repo.js';
import type { Origin } from '../users/origin.js';
import type { PasswordHasher } from '../users/passwords.js';
import type { User } from '../users/users-repo.js';
import type { LockOut } from './lock-out.js';
import { type Result, done, refused } from './result.js';

export interface PasswordResetFlowDeps extends FlowDeps {
  readonly passwords: PasswordHasher;
  readonly tokens: AccountTokensRepo;
  readonly lockOut: LockOut;
  readonly notices: { passwordChanged(user: User, origin: Origin): Promise<void> };
}

/**
 * A new password without the old one, by the reset link whose hash is `tokenHash` (it proves the
 * address, so an unproven one counts as verified): the link is used up, every session of the
 * user ends, every reset link is void, a pending email change is cancelled, the browsers trusted
 * before are trusted no more, and the owner is told; all in one transaction. (The reset link's
 * limits are counted where it is asked for: email-flows/.)
 */
export function passwordResetFlow({
  users,
  passwords,
  events,
  tokens,
  lockOut,
  atomically,
  notices,
}: PasswordResetFlowDeps) {
  const record = recorder(events);
  return {
    /** The user as they are now, or `link-dead` when the link is not live (used, expired, voided, unknown). */
    async resetPassword(
      tokenHash: Buffer,
      password: string,
      origin: Origin,
    ): Promise<Result<{ user: User }, 'link-dead'>> {
      // The hash is worked out only for a live link, and before the transaction (bcrypt is slow).
      if (!(await tokens.peek('password_reset', tokenHash))) return refused('link-dead');
      const passwordHash = await passwords.hash(password);
      return atomically(async () => {
        const token = await tokens.consume('password_reset', tokenHash);
        const user = token && (await users.findActiveById(token.userId));
        if (!user) return refused('link-dead');
        await lockOut.newPassword(user.id, passwordHash);
        await lockOut.secureAccount(user.id, origin, 'after a password reset', {
          ended: (count) => record('password_reset', user.id, origin, `${count} session(s) ended`),
        });
        if (user.email === token.email && user.emailVerifiedAt === null) await users.confirmEmail(user.id, user.email);
        const now = (await users.findActiveById(user.id)) ?? user;
        await notices.passwordChanged(now, origin);
        return done({ user: now });
      });
    },
  };
}

export type PasswordResetFlow = ReturnType<typeof passwordResetFlow>;
