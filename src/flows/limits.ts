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

type Refusal = Extract<Verdict, { allowed: false }>;

/**
 * A limit check (a flow's, or the second step's): when `verdict` is over a limit, the refusal is
 * recorded (under the account `email` names, when it names one) and the 429 thrown, before
 * anything is done. Otherwise the verdict, as allowed (a code's carries the guesses it spent).
 */
export function limitChecks(refusals: RefusalLog) {
  return async <V extends Refusal | { readonly allowed: true }>(
    verdict: V,
    origin: Origin,
    what: string,
    email?: string,
  ): Promise<Extract<V, { allowed: true }>> => {
    if (verdict.allowed) return verdict as Extract<V, { allowed: true }>;
    const refusal = verdict as Refusal;
    await refusals.record(origin, refusal, email);
    throw tooMany(refusal, what);
  };
}

export type EnforceLimit = ReturnType<typeof limitChecks>;
