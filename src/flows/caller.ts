import type { Origin } from '../users/origin.js';

/**
 * Who asks for a change, as the flows see them: where from (the audit trail, notices and the
 * per-network limits) and the device cookie the named account gave this browser after a whole
 * login (OWASP's device cookies: a browser the owner uses is not held by limits meant for
 * strangers). The HTTP side builds it (login/password-checks.ts); the admin command has none.
 */
export interface Caller {
  readonly origin: Origin;
  /** The nonce of this browser's valid device cookie for the account, or null. */
  readonly device: string | null;
}

/** The address the limits count a caller under. */
export const networkOf = (caller: Caller): string => caller.origin.ip ?? 'unknown';
