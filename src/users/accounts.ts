import type { PasswordHasher } from './passwords.js';
import type { User, UsersRepo } from './users-repo.js';

export interface SignUpInput {
  readonly name: string;
  readonly email: string;
  readonly password: string;
  readonly website: string | null;
}

export type SignUpResult = { ok: true; user: User } | { ok: false; reason: 'email-taken' };

/** The account use cases; no HTTP here, so routes and commands share them. */
export function accounts(users: UsersRepo, passwords: PasswordHasher) {
  return {
    async signUp(input: SignUpInput): Promise<SignUpResult> {
      const passwordHash = await passwords.hash(input.password);
      const user = await users.insert({ name: input.name, email: input.email, passwordHash, website: input.website });
      return user ? { ok: true, user } : { ok: false, reason: 'email-taken' };
    },

    /**
     * The user for a right email and password, else null. Every path runs one
     * bcrypt comparison, so response time does not reveal which emails exist.
     */
    async authenticate(email: string, password: string): Promise<User | null> {
      const found = await users.findByEmail(email);
      if (!found) {
        await passwords.verifyDummy(password);
        return null;
      }
      const matches = await passwords.verify(password, found.passwordHash);
      if (!matches || !found.isActive) return null;
      await users.recordLogin(found.id);
      const { passwordHash: _hash, ...user } = found;
      return { ...user, lastLoginAt: new Date() };
    },

    /** The user behind a session, or null once they are gone or deactivated. */
    activeUser: (id: number): Promise<User | null> => users.findActiveById(id),

    deactivate: (email: string): Promise<boolean> => users.setActive(email, false),
  };
}

export type Accounts = ReturnType<typeof accounts>;
