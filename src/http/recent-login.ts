import type { Request, RequestHandler } from 'express';
import { isRecent, renewSession, requireLogin, returnPath } from './current-user.js';

/** Where a user proves it is them again before a sensitive page. */
export const CONFIRM_PATH = '/account/confirm';

/** When this session last proved who it is: its login, or a later confirmation. */
const provenAt = (req: Request): number => Math.max(req.session.authAt ?? 0, req.session.confirmedAt ?? 0);

/**
 * For sensitive pages (ASVS 7.5.3; NIST SP 800-63B-4's reauthentication): the user must
 * have logged in, or confirmed it was them (the password, or a second factor), within
 * `minutes`. Anyone else is sent to confirm it, and comes back to the page afterwards. A
 * session stolen hours after its login cannot reach the page without the password.
 *
 *     routes.get('/account/export', requireRecentLogin(10), handler);
 */
export function requireRecentLogin(minutes: number): RequestHandler {
  if (!(Number.isFinite(minutes) && minutes > 0)) {
    throw new Error(`requireRecentLogin needs a number of minutes above 0, not ${minutes}`);
  }
  return (req, res, next) => {
    if (!req.user) {
      requireLogin(req, res, next);
      return;
    }
    if (isRecent(provenAt(req), minutes * 60_000)) {
      next();
      return;
    }
    const status = req.method === 'GET' || req.method === 'HEAD' ? 302 : 303;
    res.redirect(status, `${CONFIRM_PATH}?next=${encodeURIComponent(returnPath(req))}`);
  };
}

/**
 * The user has just proved it is them: sensitive pages open for their guard's minutes, on a new
 * session id (ASVS 7.2.4: a new token at every authentication, re-authentication included).
 */
export async function loginConfirmed(req: Request): Promise<void> {
  req.session.confirmedAt = Date.now();
  await renewSession(req);
}
