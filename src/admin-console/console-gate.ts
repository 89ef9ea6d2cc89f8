import { Router, type RequestHandler } from 'express';
import { requireLogin } from '../http/current-user.js';
import { HttpError } from '../http/errors.js';
import { requireRecentLogin } from '../http/recent-login.js';
import { isUnder } from '../http/routes.js';
import { messages } from '../messages.js';

/** Where the console lives: this path and everything under it is behind the gate. */
export const CONSOLE_PATH = '/admin';

/** True for a route of the console. */
export const isConsolePath = isUnder(CONSOLE_PATH);

/** How long ago a login (or a "confirm it's you") may be for the console to open (ASVS 7.5.3). */
export const CONSOLE_RECENT_LOGIN_MINUTES = 10;

export interface ConsoleGateDeps {
  readonly isAdmin: (userId: number) => Promise<boolean>;
  /** An authenticator app or a passkey. */
  readonly hasSecondFactor: (userId: number) => Promise<boolean>;
}

/**
 * The one guard of /admin and everything under it, mounted by app.ts ahead of every route, so no
 * console handler has a check of its own to forget, and a path under /admin that no route answers
 * is guarded too:
 * 1. a visitor goes to the login page, with the page as `next`;
 * 2. a logged-in user who is not an admin gets the site's 404, for every method: the console's
 *    existence is not advertised (the 405s of its routes come after this gate, in app.ts);
 * 3. an admin without a second factor gets a page saying to set one up, and nothing else;
 * 4. an admin whose login (or last confirmation) is older than 10 minutes confirms it is them.
 * Every answer past step 2 is kept out of search engines and caches.
 */
export function consoleGate({ isAdmin, hasSecondFactor }: ConsoleGateDeps): Router {
  const gate = Router();
  const adminOnly: RequestHandler = async (req, res, next) => {
    if (!req.user || !(await isAdmin(req.user.id))) {
      // A refused authorization is worth a log line (ASVS 16.3.2), not an audit row a script could flood.
      req.log.warn({ userId: req.user?.id, method: req.method, path: req.path }, 'admin console refused: not an admin');
      throw new HttpError(404, messages.errors.notFound);
    }
    res.set('X-Robots-Tag', 'noindex, nofollow');
    res.set('Cache-Control', 'no-store');
    next();
  };
  const secondFactorFirst: RequestHandler = async (req, res, next) => {
    if (req.user && (await hasSecondFactor(req.user.id))) return next();
    res.status(403).render('admin/second-factor-first.njk');
  };
  gate.use(requireLogin, adminOnly, secondFactorFirst, requireRecentLogin(CONSOLE_RECENT_LOGIN_MINUTES));
  return gate;
}
