import type { Request, Response } from 'express';
import type { Accounts, Origin } from '../users/accounts.js';
import { HttpError } from '../http/errors.js';
import type { DeviceCookies } from './device-cookie.js';
import type { LoginClient, Throttle, Verdict } from './throttle.js';

export { MALFORMED_FORM } from '../http/form-body.js';

export const originOf = (req: Request): Origin => ({ ip: req.ip ?? null, userAgent: req.get('user-agent') ?? null });
export const ipOf = (req: Request): string => req.ip ?? 'unknown';

/** The 429 for a visitor over a limit: when to come back, in the header and in words. */
export function tooMany(verdict: Extract<Verdict, { allowed: false }>, what: string): HttpError {
  const seconds = verdict.retryAfterSeconds;
  const minutes = Math.ceil(seconds / 60);
  const at = new Date(Date.now() + seconds * 1000).toISOString().slice(11, 16);
  return new HttpError(
    429,
    `Too many ${what}. Try again in ${minutes} minute${minutes === 1 ? '' : 's'} (after ${at} UTC).`,
    { 'Retry-After': String(seconds) },
  );
}

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

/** Refuses with the 429 when `verdict` is over a limit, recording the refusal. */
export async function refuseIfThrottled(
  accounts: Accounts,
  req: Request,
  verdict: Verdict,
  what: string,
  email?: string,
): Promise<void> {
  if (verdict.allowed) return;
  await accounts.throttled(originOf(req), verdict, email);
  throw tooMany(verdict, what);
}
