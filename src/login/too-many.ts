import type { Request } from 'express';
import { HttpError } from '../http/errors.js';
import { originOf } from '../http/request-origin.js';
import { messages } from '../messages.js';
import type { RefusalLog } from '../audit/refusals.js';
import type { Verdict } from './throttle.js';

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

/** Records the refusal and throws its 429. */
export async function refuse(
  refusals: RefusalLog,
  req: Request,
  verdict: Extract<Verdict, { allowed: false }>,
  what: string,
  email?: string,
): Promise<never> {
  await refusals.record(originOf(req), verdict, email);
  throw tooMany(verdict, what);
}

/** Refuses with the 429 when `verdict` is over a limit, recording the refusal. */
export async function refuseIfThrottled(
  refusals: RefusalLog,
  req: Request,
  verdict: Verdict,
  what: string,
  email?: string,
): Promise<void> {
  if (!verdict.allowed) await refuse(refusals, req, verdict, what, email);
}
