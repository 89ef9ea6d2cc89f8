import type { Request, Response } from 'express';
import type { Caller } from '../flows/caller.js';
import type { PasswordGuard } from '../flows/password-guard.js';
import { originOf } from '../http/request-origin.js';
import { messages } from '../messages.js';
import type { User } from '../users/users-repo.js';
import type { DeviceCookies } from './device-cookie.js';

/**
 * The HTTP side of password checks: who asks (the request's origin, and the device cookie the
 * named account gave this browser after a whole login), as the flows count them; the browser's
 * fresh device cookie once the owner is known to be here; and the current password re-entered
 * before a change to how the account signs in (counted like a login by flows/password-guard.ts).
 */
export function passwordChecks(devices: DeviceCookies, guard: Pick<PasswordGuard, 'recheck'>) {
  const callerFor = async (req: Request, email: string): Promise<Caller> => ({
    origin: originOf(req),
    device: await devices.trusted(req, email),
  });

  return {
    callerFor,
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
    ): Promise<boolean> {
      if (!(await guard.recheck(user, password, await callerFor(req, user.email), what, limitText))) return false;
      await devices.remember(req, res, user.email);
      return true;
    },
  };
}

export type PasswordChecks = ReturnType<typeof passwordChecks>;
