import { type AuthEventsRepo, recorder } from '../audit/auth-events-repo.js';
import { messages } from '../messages.js';
import type { Origin } from '../users/origin.js';
import type { PasswordHasher } from '../users/passwords.js';
import { type User, type UsersRepo, withoutHash } from '../users/users-repo.js';
import type { Caller } from './caller.js';
import type { PasswordGuard } from './password-guard.js';
import { type Result, done, refused } from './result.js';

export interface LoginFlowDeps {
  readonly users: UsersRepo;
  readonly passwords: PasswordHasher;
  readonly events: AuthEventsRepo;
  readonly guard: Pick<PasswordGuard, 'counted' | 'passed'>;
}

/**
 * Logging in and out, as the audit trail and the limits see it. A right password is a first
 * step, not a login: login/login-steps.ts and the assurance policy decide what must follow, and
 * call `loggedIn` once the login is whole.
 */
export function loginFlow({ users, passwords, events, guard }: LoginFlowDeps) {
  const record = recorder(events);

  return {
    /**
     * The user for a right email and password (null: the form could not be read, so no password
     * is checked). Counted before the password is checked (a 429 when over a limit); every path
     * runs one bcrypt comparison, so the answer's time does not tell which addresses exist; a
     * wrong one, or a deactivated account, is recorded as a failed login.
     */
    async withPassword(
      email: string,
      password: string | null,
      caller: Caller,
    ): Promise<Result<{ user: User }, 'bad-login'>> {
      const client = await guard.counted(email, caller, messages.limits.failedLogins);
      const found = email === '' ? null : await users.findByEmail(email);
      if (password === null || !found) {
        await passwords.verifyDummy(password ?? '');
        await record('login_failed', found?.id ?? null, caller.origin);
        return refused('bad-login');
      }
      if (!(await passwords.verify(password, found.passwordHash)) || !found.isActive) {
        await record('login_failed', found.id, caller.origin);
        return refused('bad-login');
      }
      await guard.passed(client);
      return done({ user: withoutHash(found) });
    },

    /** A login is whole (`how`: the factors it took): recorded, and the user's last login moves. */
    async loggedIn(user: User, origin: Origin, how: string): Promise<User> {
      await users.recordLogin(user.id);
      await record('login', user.id, origin, how);
      return { ...user, lastLoginAt: new Date() };
    },

    /** A first factor was right and the account has a second: the login waits for it. */
    secondFactorRequired: (userId: number, origin: Origin, after: string) =>
      record('second_factor_required', userId, origin, after),

    /** The user proved it was them again (for a sensitive page): `how` is 'password', 'authenticator app' or 'passkey'. */
    loginConfirmed: (userId: number, origin: Origin, how: string) => record('login_confirmed', userId, origin, how),

    loggedOut: (userId: number, origin: Origin) => record('logout', userId, origin),

    /** The user behind a session, or null once they are gone or deactivated. */
    activeUser: (id: number): Promise<User | null> => users.findActiveById(id),
  };
}

export type LoginFlow = ReturnType<typeof loginFlow>;
