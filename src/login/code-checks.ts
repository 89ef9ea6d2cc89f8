import type { Request } from 'express';
import { messages } from '../messages.js';
import type { EnforceLimit } from '../flows/limits.js';
import { originOf } from '../http/request-origin.js';
import type { User } from '../users/users-repo.js';
import type { DeviceCookies } from './device-cookie.js';
import type { CodeAttempt, Throttle } from './throttle.js';

/**
 * Second-factor codes (an app's, a recovery code; at login and on "confirm it's you") go through
 * one guard, as passwords go through passwordChecks: counted before they are checked, against
 * the trusted browser's own guesses when the browser holds the account's device cookie, else
 * against the account's (see Throttle.secondFactorAttempt).
 */
export function codeChecks(
  throttle: Pick<Throttle, 'secondFactorAttempt' | 'secondFactorSucceeded' | 'secondFactorFailed'>,
  devices: Pick<DeviceCookies, 'trusted'>,
  enforce: EnforceLimit,
) {
  return {
    /** Counts a code of `user`'s about to be checked; throws the 429 (and records it) when over a limit. */
    async count(req: Request, user: User): Promise<CodeAttempt> {
      const verdict = await throttle.secondFactorAttempt(user.id, await devices.trusted(req, user.email));
      return (await enforce(verdict, originOf(req), messages.limits.wrongCodes, user.email)).attempt;
    },
    /** The code was right: the account's count starts again. */
    right: (attempt: CodeAttempt): Promise<void> => throttle.secondFactorSucceeded(attempt),
    /** The code was wrong: true when the owner should now be warned (the third in a day, once a day). */
    wrong: (attempt: CodeAttempt): Promise<boolean> => throttle.secondFactorFailed(attempt),
  };
}

export type CodeChecks = ReturnType<typeof codeChecks>;
