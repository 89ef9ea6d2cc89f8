import { type AuthEventsRepo, recorder } from '../audit/auth-events-repo.js';
import type { LoginClient, Throttle } from '../login/throttle.js';
import { messages } from '../messages.js';
import { MAX_PASSWORD_BYTES, type PasswordHasher, passwordBytes } from '../users/passwords.js';
import type { User, UserWithHash, UsersRepo } from '../users/users-repo.js';
import { type Caller, networkOf } from './caller.js';
import type { EnforceLimit } from './limits.js';

export interface PasswordGuardDeps {
  readonly users: UsersRepo;
  readonly passwords: PasswordHasher;
  readonly events: AuthEventsRepo;
  readonly throttle: Pick<Throttle, 'loginAttempt' | 'loginSucceeded'>;
  readonly enforce: EnforceLimit;
}

/** bcrypt reads only the first 72 bytes, or stops at a NUL: such a password is never the right one. */
export const checkable = (password: string): boolean =>
  passwordBytes(password) <= MAX_PASSWORD_BYTES && !password.includes('\u0000');

/**
 * Every check of a password (a login, and the current password re-entered before a change) goes
 * through here: counted against the login limits before bcrypt runs (a 429 when over, so a
 * throttled guess learns nothing), one bcrypt comparison whatever the answer, a wrong one
 * recorded as a failed login, and the point given back when it was right.
 */
export function passwordGuard({ users, passwords, events, throttle, enforce }: PasswordGuardDeps) {
  const record = recorder(events);

  /** Counts a check of `email`'s password; throws the 429 when over a limit. Who it counted as. */
  async function counted(email: string, caller: Caller, limitText: string): Promise<LoginClient> {
    const { verdict, client } = await throttle.loginAttempt({ email, ip: networkOf(caller), device: caller.device });
    await enforce(verdict, caller.origin, limitText, email);
    return client;
  }

  return {
    counted,

    /** The password was right: the failure counts get their point back. */
    passed: (client: LoginClient): Promise<void> => throttle.loginSucceeded(client),

    /**
     * The signed-in user, with their hash, when `password` is theirs; else null, recorded as a
     * failed login (`what` names the change it was for). Counted like a login first.
     */
    async recheck(
      user: User,
      password: string,
      caller: Caller,
      what: string,
      limitText: string = messages.limits.wrongPasswords,
    ): Promise<UserWithHash | null> {
      const client = await counted(user.email, caller, limitText);
      const found = await users.findActiveWithHash(user.id);
      const canMatch = found !== null && checkable(password);
      if (canMatch && (await passwords.verify(password, found.passwordHash))) {
        await throttle.loginSucceeded(client);
        return found;
      }
      if (!canMatch) await passwords.verifyDummy('');
      await record('login_failed', user.id, caller.origin, `wrong current password (${what})`);
      return null;
    },
  };
}

export type PasswordGuard = ReturnType<typeof passwordGuard>;
