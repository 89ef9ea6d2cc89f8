import type { Request, Response } from 'express';
import type { RefusalLog } from '../audit/refusals.js';
import { ipOf, originOf } from '../http/request-origin.js';
import { messages } from '../messages.js';
import type { Accounts, Change } from '../users/accounts.js';
import type { User } from '../users/users-repo.js';
import type { DeviceCookies } from './device-cookie.js';
import type { LoginClient, Throttle } from './throttle.js';
import { refuseIfThrottled } from './too-many.js';

/**
 * Password checks (logging in, and re-entering the password on the account
 * pages) go through one guard: counted against the login limits before they
 * run, so a re-check is no easier to guess than a login, and a browser that
 * has completed a login to the account before is known by its device cookie.
 */
export function passwordChecks(
  throttle: Throttle,
  devices: DeviceCookies,
  accounts: Pick<Accounts, 'confirmPassword'>,
  refusals: RefusalLog,
) {
  /**
   * Counts a check of `email`'s password; throws the 429 (and records it) when over a limit.
   * Who the check counted as (for `succeeded`).
   */
  const count = async (req: Request, email: string, what: string): Promise<LoginClient> => {
    const { verdict, client } = await throttle.loginAttempt({
      email,
      ip: ipOf(req),
      device: await devices.trusted(req, email),
    });
    await refuseIfThrottled(refusals, req, verdict, what, email);
    return client;
  };

  /**
   * The password was right: the failure counts get their point back. (A right password is not a
   * whole login: the browser earns its device cookie when the login completes, in login-steps.)
   */
  const succeeded = (client: LoginClient): Promise<void> => throttle.loginSucceeded(client);

  return {
    count,
    succeeded,
    /**
     * A change that checks the signed-in user's current password (it answers `bad-password` when
     * the password is wrong), counted like a login: before it runs (a 429 when over a limit), and
     * with the point given back when the password was right. What the change answered.
     */
    async withPassword<R extends Change<string>>(req: Request, email: string, change: () => Promise<R>): Promise<R> {
      const client = await count(req, email, messages.limits.wrongPasswords);
      const result = await change();
      if (result.ok || result.reason !== 'bad-password') await succeeded(client);
      return result;
    },
    /**
     * A browser where the account is logged in (a whole login, a password just changed) is one
     * the owner uses: it gets a fresh device cookie, under the account's current device key.
     */
    remember: (req: Request, res: Response, email: string): Promise<void> => devices.remember(req, res, email),
    /**
     * The signed-in user's password, re-entered before a change (`what`, for the audit trail):
     * counted like a login (the 429 names `limitText`, by default the wrong-passwords limit), true
     * when right. A wrong one is recorded as a failed login.
     */
    async confirm(
      req: Request,
      res: Response,
      user: User,
      password: string,
      what: string,
      limitText: string = messages.limits.wrongPasswords,
    ) {
      const client = await count(req, user.email, limitText);
      if (!(await accounts.confirmPassword(user.id, password, originOf(req), what))) return false;
      await succeeded(client);
      await devices.remember(req, res, user.email);
      return true;
    },
  };
}

export type PasswordChecks = ReturnType<typeof passwordChecks>;
