import { type AuthEventsRepo, recorder } from '../audit/auth-events-repo.js';
import type { AccountTokensRepo } from './account-tokens-repo.js';
import type { Origin } from './origin.js';
import type { UsersRepo } from './users-repo.js';

export interface PendingEmailDeps {
  readonly users: UsersRepo;
  readonly tokens: AccountTokensRepo;
  readonly events: AuthEventsRepo;
}

/**
 * Cancels an email change that was asked for and not confirmed: pending_email
 * is cleared, and every link for it (verification to the new address, cancel
 * to the old) is void. Whatever secures the account again (a password change
 * or reset, signing out everywhere else, deactivation) calls this: the change
 * may have been asked for by whoever had the password, and its link sits in
 * their mailbox. So does asking to keep the current address. True when a change was pending.
 */
export async function cancelPendingEmail(
  { users, tokens, events }: PendingEmailDeps,
  userId: number,
  origin: Origin,
  why: string,
): Promise<boolean> {
  const pending = await users.cancelPendingEmail(userId);
  await tokens.voidPendingChangeLinks(userId);
  if (pending === null) return false;
  await recorder(events)('email_change_cancelled', userId, origin, `the change to ${pending}, ${why}`);
  return true;
}
