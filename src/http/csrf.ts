import type { Request, RequestHandler } from 'express';
import { csrfSync } from 'csrf-sync';
import { HttpError } from './errors.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const { csrfSynchronisedProtection, generateToken } = csrfSync({
  // Synchroniser tokens: one per session, kept in the session, sent back in the form.
  getTokenFromRequest: (req) => {
    const body: unknown = req.body;
    const token = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['_csrf'] : undefined;
    return typeof token === 'string' ? token : undefined;
  },
  errorConfig: { statusCode: 403, message: 'invalid csrf token', code: 'EBADCSRFTOKEN' },
});

/** Gives templates `csrfToken()`; a token (and so a session) exists only once a form is rendered. */
export const csrfTokens: RequestHandler = (req, res, next) => {
  res.locals.csrfToken = (): string => generateToken(req);
  next();
};

/** Checks the form token on every unsafe request. */
export const csrfProtection: RequestHandler = csrfSynchronisedProtection;

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
    if (crossSite) throw new HttpError(403, 'This form was sent from another site, so it was refused.');
    next();
  };
}
