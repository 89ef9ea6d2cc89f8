import type { AuthEventKind, AuthEventsRepo } from '../audit/auth-events-repo.js';
import type { PasswordHasher } from './passwords.js';
import type { User, UsersRepo } from './users-repo.js';

export interface SignUpInput {
  readonly name: string;
  readonly email: string;
  readonly password: string;
  readonly website: string | null;
}

/** Where a request came from, for the audit trail. */
export interface Origin {
  readonly ip: string | null;
  readonly userAgent: string | null;
}

export type SignUpResult = { ok: true; user: User } | { ok: false; reason: 'email-taken' };

/** The account use cases; no HTTP here, so routes and commands share them. */
export function accounts(users: UsersRepo, passwords: PasswordHasher, events: AuthEventsRepo) {
  const record = (event: AuthEventKind, userId: number | null, origin: Origin) =>
    events.record({ event, userId, ...origin });

  return {
    async signUp(input: SignUpInput, origin: Origin): Promise<SignUpResult> {
      const passwordHash = await passwords.hash(input.password);
      const user = await users.insert({ name: input.name, email: input.email, passwordHash, website: input.website });
      if (!user) return { ok: false, reason: 'email-taken' };
      await record('signup', user.id, origin);
      return { ok: true, user };
    },

    /**
     * The user for a right email and password, else null. Every path runs one
     * bcrypt comparison, so response time does not reveal which emails exist.
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
      await users.recordLogin(found.id);
      await record('login', found.id, origin);
      const { passwordHash: _hash, ...user } = found;
      return { ...user, lastLoginAt: new Date() };
    },

    /**
     * A login refused before its password could be checked (empty, over 72
     * bytes, a NUL): it costs and is recorded like any failed login.
     */
    async refuseLogin(email: string, origin: Origin): Promise<void> {
      const found = email === '' ? null : await users.findByEmail(email);
      await passwords.verifyDummy('');
      await record('login_failed', found?.id ?? null, origin);
    },

    /** An attempt over a limit; names the targeted account when the email is one. */
    async throttled(origin: Origin, email?: string): Promise<void> {
      const found = email ? await users.findByEmail(email) : null;
      await record('throttled', found?.id ?? null, origin);
    },

    /** The user behind a session, or null once they are gone or deactivated. */
    activeUser: (id: number): Promise<User | null> => users.findActiveById(id),

    loggedOut: (userId: number, origin: Origin) => record('logout', userId, origin),
  };
}

export type Accounts = ReturnType<typeof accounts>;
