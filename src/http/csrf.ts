import type { Request, RequestHandler } from 'express';
import { doubleCsrf } from 'csrf-csrf';
import { csrfSync } from 'csrf-sync';
import { messages } from '../messages.js';
import { HttpError } from './errors.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const ERROR = { statusCode: 403, message: 'invalid csrf token', code: 'EBADCSRFTOKEN' } as const;

const tokenInForm = (req: Request): string | undefined => {
  const body: unknown = req.body;
  const token = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['_csrf'] : undefined;
  return typeof token === 'string' ? token : undefined;
};

/** A session row exists (a login, or a login waiting for its second step): its token lives there. */
export const hasSessionRow = (req: Request): boolean =>
  req.session !== undefined && (req.session.userId !== undefined || req.session.pendingLogin !== undefined);

export interface CsrfOptions {
  readonly secrets: readonly string[];
  readonly secure: boolean;
}

export interface Csrf {
  /** Gives templates `csrfToken()`. */
  readonly tokens: RequestHandler;
  /** Checks the form's token on every unsafe request. */
  readonly protection: RequestHandler;
}

// Synchroniser tokens live in the session: nothing here depends on the secrets.
const synced = csrfSync({ getTokenFromRequest: tokenInForm, errorConfig: ERROR });

/** A fresh synchroniser token in the session (at login), so rendering forms afterwards writes nothing. */
export const bindCsrfToSession = (req: Request): void => {
  synced.generateToken(req, true);
};

/**
 * CSRF tokens without a row for anyone not logged in:
 * - a visitor with no session gets a signed double-submit token (csrf-csrf): an
 *   HMAC over the session secrets (rotation works) in an HttpOnly cookie, sent
 *   back in the form; a token is made only when a form is rendered;
 * - once logged in, the token is the synchroniser token kept in the session
 *   (csrf-sync), made at login, so it is bound to that session.
 */
export function csrf({ secrets, secure }: CsrfOptions): Csrf {
  const signed = doubleCsrf({
    getSecret: () => [...secrets],
    // Anonymous: not bound to anything but the cookie. The cookie's __Host- prefix (in production)
    // keeps a sibling subdomain from planting a pair of its own.
    getSessionIdentifier: () => 'anonymous',
    cookieName: secure ? '__Host-gatehouse.csrf' : 'gatehouse.csrf',
    cookieOptions: { httpOnly: true, secure, sameSite: 'lax', path: '/' },
    getCsrfTokenFromRequest: tokenInForm,
    errorConfig: ERROR,
  });
  return {
    tokens: (req, res, next) => {
      // One token per response, however many forms it renders: each new signed token would reset the cookie.
      let token: string | undefined;
      res.locals.csrfToken = (): string =>
        (token ??= hasSessionRow(req) ? synced.generateToken(req) : signed.generateCsrfToken(req, res));
      next();
    },
    protection: (req, res, next) =>
      hasSessionRow(req)
        ? synced.csrfSynchronisedProtection(req, res, next)
        : signed.doubleCsrfProtection(req, res, next),
  };
}

/**
 * Refuses unsafe requests that the browser says come from another site, before
 * the token is even looked at: Sec-Fetch-Site where the browser sends it (in
 * any case), else Origin. The origin expected is PUBLIC_URL's when it is set;
 * only without it is it taken from the request, where a proxy's
 * X-Forwarded-Host could name any host.
 */
export function sameOriginOnly(publicOrigin: string | null): RequestHandler {
  const expected = (req: Request) => publicOrigin ?? `${req.protocol}://${req.host}`;
  return (req, res, next) => {
    res.vary('Sec-Fetch-Site');
    if (SAFE_METHODS.has(req.method)) {
      next();
      return;
    }
    const site = req.get('sec-fetch-site')?.trim().toLowerCase();
    const origin = req.get('origin');
    const crossSite = site !== undefined ? site === 'cross-site' : origin !== undefined && origin !== expected(req);
    if (crossSite) throw new HttpError(403, messages.errors.crossSite);
    next();
  };
}
