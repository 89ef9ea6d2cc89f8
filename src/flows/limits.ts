import type { RefusalLog } from '../audit/refusals.js';
import { HttpError } from '../http/errors.js';
import type { Verdict } from '../login/throttle.js';
import { messages } from '../messages.js';
import type { Origin } from '../users/origin.js';

/**
 * The 429 for a visitor over a limit: when to come back, in the header and in words. `what` is
 * what the limit counts, one of messages.limits' phrases.
 */
export function tooMany(verdict: Extract<Verdict, { allowed: false }>, what: string): HttpError {
  const seconds = verdict.retryAfterSeconds;
  const minutes = Math.ceil(seconds / 60);
  const at = new Date(Date.now() + seconds * 1000).toISOString().slice(11, 16);
  return new HttpError(429, messages.limits.tooMany(what, minutes, at), { 'Retry-After': String(seconds) });
}

/**
 * A flow's limit check: when `verdict` is over a limit, the refusal is recorded (under the
 * account `email` names, when it names one) and the 429 thrown, before the flow does anything.
 */
export function limitChecks(refusals: RefusalLog) {
  return async (verdict: Verdict, origin: Origin, what: string, email?: string): Promise<void> => {
    if (verdict.allowed) return;
    await refusals.record(origin, verdict, email);
    throw tooMany(verdict, what);
  };
}

export type EnforceLimit = ReturnType<typeof limitChecks>;
