import type { Request, Response } from 'express';
import { ipOf, originOf } from '../http/request-origin.js';
import { messages } from '../messages.js';
import type { Accounts } from '../users/accounts.js';
import type { User } from '../users/users-repo.js';
import type { DeviceCookies } from './device-cookie.js';
import type { LoginClient, Throttle } from './throttle.js';
import { refuseIfThrottled } from './too-many.js';

/**
 * Password checks (logging in, and re-entering the password on the account
 * pages) go through one guard: counted against the login limits before they
 * run, so a re-check is no easier to guess than a login, and a browser that
 * has logged in to the account before is known by its device cookie.
 */
export function passwordChecks(throttle: Throttle, devices: DeviceCookies, accounts: Accounts) {
  const client = (req: Request, email: string): LoginClient => ({
    email,
    ip: ipOf(req),
    device: devices.trusted(req, email),
  });
  /** Counts a check of `email`'s password; throws the 429 (and records it) when over a limit. */
  const count = async (req: Request, email: string, what: string): Promise<void> =>
    refuseIfThrottled(accounts, req, await throttle.loginAttempt(client(req, email)), what, email);

  /** The password was right: the failure counts get their point back, and this browser is remembered. */
  const succeeded = async (req: Request, res: Response, email: string): Promise<void> => {
    await throttle.loginSucceeded(client(req, email));
    devices.remember(req, res, email);
  };

  return {
    count,
    succeeded,
    /** A new account: its first browser is one that has logged in to it. */
    remember: (req: Request, res: Response, email: string): void => devices.remember(req, res, email),
    /**
     * The signed-in user's password, re-entered before a change (`what`, for the audit trail):
     * counted like a login (the 429 names `limitText`, by default the wrong-passwords limit), true when right. A wrong one is recorded
     * as a failed login.
     */
    async confirm(
      req: Request,
      res: Response,
      user: User,
      password: string,
      what: string,
      limitText: string = messages.limits.wrongPasswords,
    ) {
      await count(req, user.email, limitText);
      if (!(await accounts.confirmPassword(user.id, password, originOf(req), what))) return false;
      await succeeded(req, res, user.email);
      return true;
    },
  };
}

export type PasswordChecks = ReturnType<typeof passwordChecks>;
