import type { Request, Response } from 'express';
import { ipOf, originOf } from '../http/request-origin.js';
import type { Accounts } from '../users/accounts.js';
import type { DeviceCookies } from './device-cookie.js';
import type { LoginClient, Throttle } from './throttle.js';
import { tooMany } from './too-many.js';

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
  return {
    /** Counts a check of `email`'s password; throws the 429 (and records it) when over a limit. */
    async count(req: Request, email: string, what: string): Promise<void> {
      const verdict = await throttle.loginAttempt(client(req, email));
      if (verdict.allowed) return;
      await accounts.throttled(originOf(req), verdict, email);
      throw tooMany(verdict, what);
    },
    /** A new account: its first browser is one that has logged in to it. */
    remember: (req: Request, res: Response, email: string): void => devices.remember(req, res, email),
    /** The password was right: the failure counts get their point back, and this browser is remembered. */
    async succeeded(req: Request, res: Response, email: string): Promise<void> {
      await throttle.loginSucceeded(client(req, email));
      devices.remember(req, res, email);
    },
  };
}

export type PasswordChecks = ReturnType<typeof passwordChecks>;
