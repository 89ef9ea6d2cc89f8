import type { FlowDeps } from './flow-deps.js';
import { recorder } from '../audit/auth-events-repo.js';
import type { Throttle } from '../login/throttle.js';
import { messages } from '../messages.js';
import type { AccountTokensRepo } from '../users/account-tokens-repo.js';
import { cancelPendingEmail } from '../users/pending-email.js';
import { type User, withoutHash } from '../users/users-repo.js';
import { type Caller, networkOf } from './caller.js';
import type { EnforceLimit } from './limits.js';
import type { PasswordGuard } from './password-guard.js';
import { type Result, done, refused } from './result.js';

export interface EmailChangeFlowDeps extends FlowDeps {
  readonly tokens: AccountTokensRepo;
  readonly throttle: Pick<Throttle, 'emailChangeRequest' | 'mailLinkRequest'>;
  readonly enforce: EnforceLimit;
  readonly guard: Pick<PasswordGuard, 'recheck'>;
  /** A link to the new address, and a notice with a cancel link to the old (email-flows/ sends them). */
  readonly notices: { emailChangeRequested(user: User, newEmail: string): Promise<void> };
}

/**
 * ASVS 7.5.1: a new address only with the current password. It takes effect once a link sent to
 * it is followed (pending_email until then); the user's sessions stay. Asking for the current
 * address again cancels a pending change (its links, to the other address and to this one, die).
 */
export function emailChangeFlow({
  users,
  events,
  tokens,
  throttle,
  enforce,
  guard,
  atomically,
  notices,
}: EmailChangeFlowDeps) {
  const record = recorder(events);
  return {
    /** `pending`: a link went to the new address; false: the current one was asked for, nothing is pending. */
    async requestEmailChange(
      user: User,
      { email, password }: { email: string; password: string },
      caller: Caller,
    ): Promise<Result<{ pending: boolean }, 'bad-password' | 'email-taken'>> {
      const { origin } = caller;
      // Every request counts, whatever it comes to: a "taken" answer tells whether an address has
      // an account, so the per-user limit is what keeps that from becoming a lookup service.
      await enforce(await throttle.emailChangeRequest(user.id), origin, messages.limits.emailChangeRequests);
      if (email !== user.email) {
        await enforce(await throttle.mailLinkRequest(email, networkOf(caller)), origin, messages.limits.linksToAddress);
      }
      const found = await guard.recheck(user, password, caller, 'email change');
      if (!found) return refused('bad-password');
      return atomically(async () => {
        if (found.email === email) {
          await cancelPendingEmail({ users, tokens, events }, user.id, origin, 'by asking to keep the current address');
          return done({ pending: false });
        }
        if (!(await users.setPendingEmail(user.id, email))) return refused('email-taken');
        await record('email_change_requested', user.id, origin, `from ${found.email} to ${email}`);
        await notices.emailChangeRequested(withoutHash(found), email);
        return done({ pending: true });
      });
    },
  };
}

export type EmailChangeFlow = ReturnType<typeof emailChangeFlow>;
