import { type AuthEventsRepo, recorder } from '../audit/auth-events-repo.js';
import type { Transactions } from '../db/transactions.js';
import type { SecondFactorGuessesRepo } from '../login/second-factor-guesses-repo.js';
import { MAX_PASSWORD_BYTES, type PasswordHasher, passwordBytes } from './passwords.js';
import type { OpenSessionsPage, SessionsRepo } from '../sessions/sessions-repo.js';
import type { AccountTokensRepo } from './account-tokens-repo.js';
import { ADMIN_ORIGIN, type Origin } from './origin.js';
import { cancelPendingEmail } from './pending-email.js';
import { type User, type UserWithHash, type UsersRepo, withoutHash } from './users-repo.js';

export interface SignUpInput {
  readonly name: string;
  readonly email: string;
  readonly password: string;
  readonly website: string | null;
}

export type { Origin } from './origin.js';

export type SignUpResult = { ok: true; user: User } | { ok: false; reason: 'email-taken' };

export interface ProfileInput {
  readonly name: string;
  readonly website: string | null;
}

/** A change that needs the current password: refused when it is wrong. */
export type Change<Reason extends string = never> = { ok: true } | { ok: false; reason: 'bad-password' | Reason };

/** What the admin command does to an account found by email. */
export type AdminResult<T = Record<never, never>> = ({ found: true; changed: boolean } & T) | { found: false };

/** The mail a change to an account sends, queued in the change's own transaction (email-flows/ sends it). */
export interface AccountNotices {
  /** The password was changed or reset: the owner is told. */
  passwordChanged(user: User, origin: Origin): Promise<void>;
  /** A move to `newEmail` was asked for: a link to the new address, and a notice with a cancel link to the old. */
  emailChangeRequested(user: User, newEmail: string): Promise<void>;
}

export interface AccountsDeps {
  readonly users: UsersRepo;
  readonly passwords: PasswordHasher;
  readonly events: AuthEventsRepo;
  readonly sessions: SessionsRepo;
  readonly tokens: AccountTokensRepo;
  /** The account's count of wrong second-factor codes: guesses made with an old password are forgotten. */
  readonly codeGuesses: Pick<SecondFactorGuessesRepo, 'clear'>;
  /** Each security change is one transaction: the repos above are built on its database. */
  readonly atomically: Transactions['atomically'];
  readonly notices: AccountNotices;
}

/**
 * The account use cases; no HTTP here, so routes and commands share them. Every change that
 * secures or alters an account happens whole or not at all (`atomically`), its audit rows and
 * mail included; password checks and hashing come first, outside the transaction.
 */
export function accounts({
  users,
  passwords,
  events,
  sessions,
  tokens,
  codeGuesses,
  atomically,
  notices,
}: AccountsDeps) {
  const record = recorder(events);
  const cancelEmailChange = (userId: number, origin: Origin, why: string) =>
    cancelPendingEmail({ users, tokens, events }, userId, origin, why);

  /**
   * Locks out whoever else may hold the account (after a password change or reset, signing out
   * everywhere else, deactivation, an email change's cancel link): every session of the user but
   * `keepSid` ends, then a pending email change is cancelled and its links die (whoever had the
   * password may have asked for it, and its link sits in their mailbox). `ended`, when given,
   * records the count before the cancellation is recorded. How many sessions were still open.
   */
  async function secureAccount(
    userId: number,
    origin: Origin,
    why: string,
    { keepSid = null, ended }: { keepSid?: string | null; ended?: (count: number) => Promise<void> } = {},
  ): Promise<number> {
    const count = await sessions.endAll(userId, keepSid);
    if (ended) await ended(count);
    await cancelEmailChange(userId, origin, why);
    return count;
  }

  /**
   * A new password is in place (its hash): the device key changes with it, reset links mailed
   * before are void, and wrong second-factor codes guessed with the old one are forgotten.
   */
  async function newPassword(userId: number, passwordHash: string): Promise<void> {
    await users.updatePasswordHash(userId, passwordHash);
    await tokens.voidAll(userId, 'password_reset');
    await codeGuesses.clear(userId);
  }

  /**
   * The signed-in user, when `password` is theirs; one bcrypt comparison
   * either way. A wrong one is recorded as a failed login (it is a guess).
   */
  async function recheck(userId: number, password: string, origin: Origin, what: string): Promise<UserWithHash | null> {
    const found = await users.findActiveWithHash(userId);
    // bcrypt would read only the first 72 bytes, or stop at a NUL: such a password is never the right one.
    const checkable = found && passwordBytes(password) <= MAX_PASSWORD_BYTES && !password.includes('\u0000');
    if (checkable && (await passwords.verify(password, found.passwordHash))) return found;
    if (!checkable) await passwords.verifyDummy('');
    await record('login_failed', userId, origin, `wrong current password (${what})`);
    return null;
  }

  return {
    async signUp(input: SignUpInput, origin: Origin): Promise<SignUpResult> {
      const passwordHash = await passwords.hash(input.password);
      const user = await users.insert({ name: input.name, email: input.email, passwordHash, website: input.website });
      if (!user) return { ok: false, reason: 'email-taken' };
      await record('signup', user.id, origin);
      return { ok: true, user };
    },

    /**
     * The user for a right email and password, else null (recorded as a failed login). Every
     * path runs one bcrypt comparison, so response time does not reveal which emails exist.
     * A right password is not yet a login: loggedIn() records that, once every step is done.
     */
    async authenticate(email: string, password: string, origin: Origin): Promise<User | null> {
      const found = await users.findByEmail(email);
      if (!found) {
        await passwords.verifyDummy(password);
        await record('login_failed', null, origin);
        return null;
      }
      const matches = await passwords.verify(password, found.passwordHash);
      if (!matches || !found.isActive) {
        await record('login_failed', found.id, origin);
        return null;
      }
      return withoutHash(found);
    },

    /** A login is complete (`how`: the factors it took): recorded, and the user's last login moves. */
    async loggedIn(user: User, origin: Origin, how: string): Promise<User> {
      await users.recordLogin(user.id);
      await record('login', user.id, origin, how);
      return { ...user, lastLoginAt: new Date() };
    },

    /** The password was right and the account has a second factor: the login waits for it. */
    secondFactorRequired: (userId: number, origin: Origin, after: string) =>
      record('second_factor_required', userId, origin, after),

    /**
     * A login refused before its password could be checked (empty, over 72
     * bytes, a NUL): it costs and is recorded like any failed login.
     */
    async refuseLogin(email: string, origin: Origin): Promise<void> {
      const found = email === '' ? null : await users.findByEmail(email);
      await passwords.verifyDummy('');
      await record('login_failed', found?.id ?? null, origin);
    },

    /**
     * True when `password` is the signed-in user's (the account pages' re-check before a change to
     * how the account signs in); a wrong one is recorded as a failed login. `what` names the change.
     */
    confirmPassword: async (userId: number, password: string, origin: Origin, what: string): Promise<boolean> =>
      (await recheck(userId, password, origin, what)) !== null,

    /** The user behind a session, or null once they are gone or deactivated. */
    activeUser: (id: number): Promise<User | null> => users.findActiveById(id),

    loggedOut: (userId: number, origin: Origin) => record('logout', userId, origin),

    /** The user proved it was them again (for a sensitive page): `how` is 'password', 'authenticator app' or 'passkey'. */
    loginConfirmed: (userId: number, origin: Origin, how: string) => record('login_confirmed', userId, origin, how),

    // ------------------------------------------------------------ the user's own data

    /** A page of the user's history (their auth_events), newest first, and how many events they have. */
    activity: (userId: number, limit: number, offset: number) => events.pageFor(userId, limit, offset),

    /** The user downloaded everything kept about them. */
    dataExported: (userId: number, origin: Origin) => record('data_exported', userId, origin),

    // ------------------------------------------------------------ the account pages

    async updateProfile(userId: number, input: ProfileInput, origin: Origin): Promise<void> {
      await users.updateProfile(userId, input.name, input.website);
      await record('profile_changed', userId, origin);
    },

    /**
     * ASVS 7.5.1: a new address only with the current password. It takes
     * effect once a link sent to it is followed (pending_email until then);
     * the user's sessions stay. Asking for the current address again cancels a pending change.
     */
    async requestEmailChange(
      userId: number,
      password: string,
      email: string,
      origin: Origin,
    ): Promise<Change<'email-taken'> & { pending?: boolean }> {
      const found = await recheck(userId, password, origin, 'email change');
      if (!found) return { ok: false, reason: 'bad-password' };
      return atomically(async () => {
        if (found.email === email) {
          // Its links (verification to the other address, cancel to this one) die with it.
          await cancelEmailChange(userId, origin, 'by asking to keep the current address');
          return { ok: true, pending: false };
        }
        if (!(await users.setPendingEmail(userId, email))) return { ok: false, reason: 'email-taken' };
        await record('email_change_requested', userId, origin, `from ${found.email} to ${email}`);
        await notices.emailChangeRequested(withoutHash(found), email);
        return { ok: true, pending: true };
      });
    },

    /**
     * ASVS 7.4.3: a new password ends every other session of the user but
     * `keepSid`, the caller's; the caller then gives that session a new id.
     * Reset links mailed before it are void, a pending email change is cancelled, the browsers
     * trusted before are trusted no more, wrong codes guessed with the old password are
     * forgotten, and the owner is told: all in one transaction.
     */
    async changePassword(
      userId: number,
      current: string,
      next: string,
      keepSid: string,
      origin: Origin,
    ): Promise<Change & { ended?: number }> {
      const found = await recheck(userId, current, origin, 'password change');
      if (!found) return { ok: false, reason: 'bad-password' };
      const passwordHash = await passwords.hash(next);
      return atomically(async () => {
        await newPassword(userId, passwordHash);
        await record('password_changed', userId, origin);
        const ended = await secureAccount(userId, origin, 'after a password change', { keepSid });
        if (ended > 0)
          await record('sessions_ended', userId, origin, `${ended} other session(s), after a password change`);
        await notices.passwordChanged(withoutHash(found), origin);
        return { ok: true, ended };
      });
    },

    /** Removes the user and every session of theirs; the audit trail keeps the id. */
    async deleteAccount(userId: number, password: string, origin: Origin): Promise<Change> {
      const found = await recheck(userId, password, origin, 'account deletion');
      if (!found) return { ok: false, reason: 'bad-password' };
      return atomically(async () => {
        await sessions.endAll(userId);
        await users.delete(userId);
        await record('account_deleted', userId, origin, 'by the user');
        return { ok: true };
      });
    },

    openSessions: (userId: number, currentSid: string | null, limit: number, offset = 0): Promise<OpenSessionsPage> =>
      sessions.openFor(userId, currentSid, limit, offset),

    /** Ends one of the user's own sessions; whether it was `currentSid`, or null when the id is not one of theirs. */
    async endSession(
      userId: number,
      sessionId: string,
      currentSid: string,
      origin: Origin,
    ): Promise<{ current: boolean } | null> {
      return atomically(async () => {
        const sid = await sessions.endOne(userId, sessionId);
        if (sid === null) return null;
        await record('session_ended', userId, origin, `session ${sessionId}`);
        return { current: sid === sessions.sidHash(currentSid) };
      });
    },

    endOtherSessions: (userId: number, keepSid: string, origin: Origin): Promise<number> =>
      atomically(() =>
        secureAccount(userId, origin, 'after signing out everywhere else', {
          keepSid,
          ended: (count) =>
            record('sessions_ended', userId, origin, `${count} other session(s), signed out everywhere else`),
        }),
      ),

    secureAccount,

    /**
     * A new password without the old one, by the reset link whose hash is `tokenHash` (it proves
     * the address, so an unproven one counts as verified): the link is used up, every session of
     * the user ends, every reset link is void, a pending email change is cancelled, the browsers
     * trusted before are trusted no more, and the owner is told; all in one transaction. The user
     * as they are now, or null when the link is not live (used, expired, voided, unknown).
     */
    async resetPassword(tokenHash: Buffer, password: string, origin: Origin): Promise<User | null> {
      // The hash is worked out only for a live link, and before the transaction (bcrypt is slow).
      if (!(await tokens.peek('password_reset', tokenHash))) return null;
      const passwordHash = await passwords.hash(password);
      return atomically(async () => {
        const token = await tokens.consume('password_reset', tokenHash);
        const user = token && (await users.findActiveById(token.userId));
        if (!user) return null;
        await newPassword(user.id, passwordHash);
        await secureAccount(user.id, origin, 'after a password reset', {
          ended: (count) => record('password_reset', user.id, origin, `${count} session(s) ended`),
        });
        if (user.email === token.email && user.emailVerifiedAt === null) await users.confirmEmail(user.id, user.email);
        const now = (await users.findActiveById(user.id)) ?? user;
        await notices.passwordChanged(now, origin);
        return now;
      });
    },

    // ------------------------------------------------------------ the admin command

    async findUser(email: string): Promise<User | null> {
      const found = await users.findByEmail(email);
      return found ? withoutHash(found) : null;
    },

    listUsers: (limit: number, offset: number) => users.page(limit, offset),

    recentEvents: (userId: number, limit: number) => events.recentFor(userId, limit),

    /** Deactivating ends the user's sessions at once (they would fail on their next request anyway). */
    async deactivate(email: string): Promise<AdminResult<{ sessionsEnded: number }>> {
      const found = await users.findByEmail(email);
      if (!found) return { found: false };
      return atomically(async () => {
        const changed = await users.setActive(found.id, false);
        const sessionsEnded = await secureAccount(found.id, ADMIN_ORIGIN, 'at deactivation', {
          ended: async (count) => {
            if (changed) await record('deactivated', found.id, ADMIN_ORIGIN, `${count} session(s) ended`);
          },
        });
        return { found: true, changed, sessionsEnded };
      });
    },

    async activate(email: string): Promise<AdminResult> {
      const found = await users.findByEmail(email);
      if (!found) return { found: false };
      return atomically(async () => {
        const changed = await users.setActive(found.id, true);
        if (changed) await record('activated', found.id, ADMIN_ORIGIN);
        return { found: true, changed };
      });
    },

    async deleteUser(email: string): Promise<AdminResult<{ sessionsEnded: number }>> {
      const found = await users.findByEmail(email);
      if (!found) return { found: false };
      return atomically(async () => {
        const sessionsEnded = await sessions.endAll(found.id);
        const changed = await users.delete(found.id);
        if (changed)
          await record('account_deleted', found.id, ADMIN_ORIGIN, `by the admin command; was ${found.email}`);
        return { found: true, changed, sessionsEnded };
      });
    },

    pruneSessions: (): Promise<number> => sessions.prune(),
  };
}

export type Accounts = ReturnType<typeof accounts>;
