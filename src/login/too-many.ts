import type { Request } from 'express';
import { originOf } from '../http/request-origin.js';
import type { RefusalLog } from '../audit/refusals.js';
import { tooMany } from '../flows/limits.js';
import type { Verdict } from './throttle.js';

export { tooMany } from '../flows/limits.js';

/** Records the refusal and throws its 429 (the second-factor checks, whose count is the request's browser's). */
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
