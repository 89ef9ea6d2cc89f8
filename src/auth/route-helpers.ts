import type { Request } from 'express';
import type { Accounts, Origin } from '../users/accounts.js';
import { HttpError } from '../http/errors.js';
import type { Throttle, Verdict } from './throttle.js';

export const MALFORMED_FORM =
  'The form you sent had missing, repeated or unexpected fields. Reload the page and try again.';

export const originOf = (req: Request): Origin => ({ ip: req.ip ?? null, userAgent: req.get('user-agent') ?? null });
export const ipOf = (req: Request): string => req.ip ?? 'unknown';

/** The 429 for a visitor over a limit: when to come back, in the header and in words. */
export function tooMany(verdict: Extract<Verdict, { allowed: false }>, what: string): HttpError {
  const seconds = verdict.retryAfterSeconds;
  const minutes = Math.ceil(seconds / 60);
  const at = new Date(Date.now() + seconds * 1000).toISOString().slice(11, 16);
  return new HttpError(
    429,
    `Too many ${what} from this address. Try again in ${minutes} minute${minutes === 1 ? '' : 's'} (after ${at} UTC).`,
    { 'Retry-After': String(seconds) },
  );
}

/**
 * Counts a password check against the login limits of the account and the
 * address before it runs, so re-entering a password on the account pages is
 * no easier to guess than logging in. Throws the 429 when over a limit.
 */
export async function countPasswordCheck(
  throttle: Throttle,
  accounts: Accounts,
  req: Request,
  email: string,
): Promise<void> {
  const verdict = await throttle.loginAttempt(email, ipOf(req));
  if (verdict.allowed) return;
  await accounts.throttled(originOf(req), email);
  throw tooMany(verdict, 'wrong passwords');
}
