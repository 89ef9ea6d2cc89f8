import type { FlowDeps } from './flow-deps.js';
import { recorder } from '../audit/auth-events-repo.js';
import type { Throttle } from '../login/throttle.js';
import { messages } from '../messages.js';
import type { Origin } from '../users/origin.js';
import type { PasswordHasher } from '../users/passwords.js';
import type { User } from '../users/users-repo.js';
import type { EnforceLimit } from './limits.js';
import { type Result, done, refused } from './result.js';

export interface SignUpInput {
  readonly name: string;
  readonly email: string;
  readonly password: string;
  readonly website: string | null;
}

export interface SignUpFlowDeps extends FlowDeps {
  readonly passwords: PasswordHasher;
  readonly throttle: Pick<Throttle, 'signupAttempt'>;
  readonly enforce: EnforceLimit;
  /** This browser is the account's first, and the address gets its link (email-flows/ sends it). */
  readonly notices: { signedUp(user: User, origin: Origin): Promise<void> };
}

/**
 * A new account: counted per network first (a 429 when over), the password hashed outside the
 * transaction (bcrypt is slow), then the row, its audit row and its verification mail in one
 * transaction. A taken address is refused and changes nothing.
 */
export function signUpFlow({ users, passwords, events, throttle, enforce, atomically, notices }: SignUpFlowDeps) {
  const record = recorder(events);
  return {
    async signUp(input: SignUpInput, origin: Origin): Promise<Result<{ user: User }, 'email-taken'>> {
      await enforce(await throttle.signupAttempt(origin.ip ?? 'unknown'), origin, messages.limits.signUps);
      const passwordHash = await passwords.hash(input.password);
      return atomically(async () => {
        const user = await users.insert({ name: input.name, email: input.email, passwordHash, website: input.website });
        if (!user) return refused('email-taken');
        await record('signup', user.id, origin);
        await notices.signedUp(user, origin);
        return done({ user });
      });
    },
  };
}

export type SignUpFlow = ReturnType<typeof signUpFlow>;
