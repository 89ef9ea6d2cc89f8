import { actingAs } from '../audit/acting-admin.js';
import { type AuthEventsRepo, recorder } from '../audit/auth-events-repo.js';
import type { Transactions } from '../db/transactions.js';
import type { EnforceLimit } from '../flows/limits.js';
import type { LockOut } from '../flows/lock-out.js';
import { type Result, done, refused } from '../flows/result.js';
import type { Throttle } from '../login/throttle.js';
import type { AdminChange } from '../mail/mail-templates.js';
import { messages } from '../messages.js';
import type { PasskeysRepo } from '../passkeys/passkeys-repo.js';
import type { Origin } from '../users/origin.js';
import type { User, UsersRepo } from '../users/users-repo.js';
import type { DirectoryEntry, DirectoryRepo } from './directory-repo.js';

/** What an admin can do to an account from the console (POST /admin/users/ID/ACTION). */
export const CONSOLE_ACTIONS = [
  'end-sessions',
  'deactivate',
  'reactivate',
  'send-reset',
  'reset-factors',
  'verify-email',
  'remove-passkey',
] as const;

export type ConsoleAction = (typeof CONSOLE_ACTIONS)[number];

/** Why an action is not done: each the console words (and gives its status). */
export type ActionRefusal =
  'no-such-user' | 'no-such-passkey' | 'own-account' | 'other-admin' | 'inactive' | 'not-confirmed';

/** The account an action would be done to, and the passkey it names (remove-passkey). */
export interface ActionTarget {
  readonly entry: DirectoryEntry;
  readonly passkey: { readonly id: string; readonly name: string } | null;
}

export interface ConsoleActionsDeps {
  readonly users: Pick<UsersRepo, 'setActive' | 'confirmEmail'>;
  readonly events: AuthEventsRepo;
  readonly atomically: Transactions['atomically'];
  readonly directory: DirectoryRepo;
  readonly lockOut: Pick<LockOut, 'secureAccount'>;
  readonly passkeys: Pick<PasskeysRepo, 'listFor' | 'remove' | 'removeAll'>;
  /** The second factor's reset, as `mfa:reset` runs it (audited, the owner mailed). */
  readonly factors: {
    reset(
      user: User,
      origin: Origin,
      alsoRemoved: () => Promise<number>,
    ): Promise<{ totp: boolean; codes: number; passkeys: number }>;
  };
  readonly mail: {
    mailResetLink(user: User, origin: Origin): Promise<void>;
    changedByAdmin(user: User, change: AdminChange): Promise<void>;
  };
  readonly throttle: Pick<Throttle, 'adminAction'>;
  readonly enforce: EnforceLimit;
}

/**
 * The console's changes, one flow each (flows/'s shape): the rules (never the admin's own
 * account; another admin's only to end its sessions), the per-admin limit, then the change, its
 * audit row (naming the admin as actor: audit/acting-admin.ts) and the owner's notice, in one
 * transaction.
 */
export function consoleActions(deps: ConsoleActionsDeps) {
  const { users, events, atomically, directory, lockOut, passkeys, factors, mail, throttle, enforce } = deps;
  const record = recorder(events);

  /** The account and passkey an action names, when the rules let `admin` do it. */
  async function target(
    admin: User,
    action: ConsoleAction,
    accountId: number,
    passkeyId: string | null,
  ): Promise<Result<ActionTarget, ActionRefusal>> {
    const entry = await directory.find(accountId);
    if (!entry) return refused('no-such-user');
    if (entry.user.id === admin.id) return refused('own-account');
    if (entry.isAdmin && action !== 'end-sessions') return refused('other-admin');
    if (action !== 'remove-passkey') return done({ entry, passkey: null });
    const passkey = (await passkeys.listFor(accountId)).find((key) => key.id === passkeyId);
    return passkey ? done({ entry, passkey: { id: passkey.id, name: passkey.name } }) : refused('no-such-passkey');
  }

  type Changed = Result<{ changed: boolean }, ActionRefusal>;
  const unchanged: Changed = done({ changed: false });

  /** Each action on an account the rules allow, inside the transaction, as the admin. */
  const perform: Record<ConsoleAction, (user: User, origin: Origin, passkeyId: string) => Promise<Changed>> = {
    async 'end-sessions'(user, origin) {
      const ended = await lockOut.secureAccount(user.id, origin, 'by an administrator', {
        ended: (count) => record('sessions_ended', user.id, origin, `${count} session(s) ended`),
      });
      if (ended > 0) await mail.changedByAdmin(user, 'sessions-ended');
      return done({ changed: ended > 0 });
    },
    async deactivate(user, origin) {
      if (!(await users.setActive(user.id, false))) return unchanged;
      await lockOut.secureAccount(user.id, origin, 'at deactivation', {
        ended: (count) => record('deactivated', user.id, origin, `${count} session(s) ended`),
      });
      await mail.changedByAdmin(user, 'deactivated');
      return done({ changed: true });
    },
    async reactivate(user, origin) {
      if (!(await users.setActive(user.id, true))) return unchanged;
      await record('activated', user.id, origin);
      await mail.changedByAdmin(user, 'reactivated');
      return done({ changed: true });
    },
    async 'send-reset'(user, origin) {
      if (!user.isActive) return refused('inactive');
      await mail.mailResetLink(user, origin);
      return done({ changed: true });
    },
    async 'reset-factors'(user, origin) {
      const removed = await factors.reset(user, origin, () => passkeys.removeAll(user.id));
      return done({ changed: removed.totp || removed.codes > 0 || removed.passkeys > 0 });
    },
    async 'verify-email'(user, origin) {
      if (user.emailVerifiedAt !== null) return unchanged;
      const outcome = await users.confirmEmail(user.id, user.email);
      if (outcome === 'stale') return refused('inactive');
      if (outcome === 'taken') return unchanged;
      await record('email_verified', user.id, origin, user.email);
      await mail.changedByAdmin({ ...user, emailVerifiedAt: new Date() }, 'email-verified');
      return done({ changed: true });
    },
    async 'remove-passkey'(user, origin, passkeyId) {
      const name = await passkeys.remove(user.id, passkeyId);
      if (name === null) return refused('no-such-passkey');
      await record('passkey_removed', user.id, origin, name);
      await mail.changedByAdmin(user, 'passkey-removed');
      return done({ changed: true });
    },
  };

  return {
    target,

    /**
     * Does `action` to the account, once confirmed: `confirm` is the account's email as the
     * confirmation page named it (an account whose address changed meanwhile is not acted on).
     */
    async act(
      admin: User,
      action: ConsoleAction,
      accountId: number,
      { confirm, passkey }: { confirm: string | null; passkey: string | null },
      origin: Origin,
    ): Promise<Result<{ changed: boolean; account: User }, ActionRefusal>> {
      await enforce(await throttle.adminAction(admin.id), origin, messages.limits.adminActions);
      const found = await target(admin, action, accountId, passkey);
      if (!found.ok) return found;
      const account = found.entry.user;
      if (confirm === null || confirm.toLowerCase() !== account.email.toLowerCase()) return refused('not-confirmed');
      const result = await actingAs(admin.id, () =>
        atomically(() => perform[action](account, origin, found.passkey?.id ?? '')),
      );
      return result.ok ? done({ changed: result.changed, account }) : result;
    },
  };
}

export type ConsoleActions = ReturnType<typeof consoleActions>;
