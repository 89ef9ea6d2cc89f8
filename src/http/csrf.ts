import type { Request, RequestHandler, Response } from 'express';
import { csrfSync } from 'csrf-sync';
import { keyring } from '../crypto/keyring.js';
import { messages } from '../messages.js';
import { HttpError } from './errors.js';
import { randomId } from './random-ids.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const ERROR = { statusCode: 403, message: 'invalid csrf token', code: 'EBADCSRFTOKEN' } as const;
/** A refused visitor token: the error csrf-sync raises for a session's, so errors.ts words both alike. */
const refused = (): Error => Object.assign(new Error(ERROR.message), ERROR);

const tokenInForm = (req: Request): string | undefined => {
  const body: unknown = req.body;
  const token = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['_csrf'] : undefined;
  return typeof token === 'string' ? token : undefined;
};

/** A session row exists (a login, or a login waiting for its second step): its token lives there. */
export const hasSessionRow = (req: Request): boolean =>
  req.session !== undefined && (req.session.userId !== undefined || req.session.loginInProgress !== undefined);

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

/** How long a visitor value signs tokens: a form left open all day still works, a token found next week does not. */
const VISITOR_LIFETIME_SECONDS = 12 * 60 * 60;
/** A value with less than this left is replaced when a form is shown, so every form shown stays good this long. */
const VISITOR_RENEW_WITHIN_SECONDS = 60 * 60;
// 16 random bytes in base64url (22 characters), a dot, the expiry in Unix seconds; nothing longer is read.
const VISITOR_VALUE = /^[A-Za-z0-9_-]{22}\.([1-9][0-9]{0,11})$/;

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** The seconds the visitor value has left, or undefined when it is malformed or expired. */
const secondsLeft = (value: unknown): number | undefined => {
  const expiry = typeof value === 'string' ? VISITOR_VALUE.exec(value)?.[1] : undefined;
  const left = expiry === undefined ? 0 : Number(expiry) - nowSeconds();
  return left > 0 ? left : undefined;
};

/**
 * CSRF tokens without a row for anyone not logged in:
 * - a visitor with no session gets a signed double-submit token (OWASP's "signed
 *   double-submit cookie"): a random per-visitor value (16 bytes) and its expiry,
 *   in an HttpOnly cookie, and in the form an HMAC of that value under a key
 *   derived from the session secrets for this use alone (crypto/keyring.ts: the
 *   first secret signs, every one verifies). A token works only with the visitor
 *   value it was made for and only until that value expires; the value is made
 *   only when a form is rendered, and kept while it has time left, so its token
 *   stays the same and no cookie is set again;
 * - once logged in, the token is the synchroniser token kept in the session
 *   (csrf-sync), made at login, so it is bound to that session.
 */
export function csrf({ secrets, secure }: CsrfOptions): Csrf {
  const visitorCookie = secure ? '__Host-gatehouse.visitor' : 'gatehouse.visitor';
  const visitorTokens = keyring(secrets, 'visitor csrf token v1');

  const visitorIn = (req: Request): unknown => (req.cookies as Record<string, unknown> | undefined)?.[visitorCookie];

  /** The visitor value to sign this response's token under: the one held while it has time left, else a new one. */
  const visitorFor = (req: Request, res: Response): string => {
    const held = visitorIn(req);
    const left = secondsLeft(held);
    // Never reused beyond the lifetime: signing a hand-made value that claims more would stretch the expiry.
    const reusable = left !== undefined && left >= VISITOR_RENEW_WITHIN_SECONDS && left <= VISITOR_LIFETIME_SECONDS;
    if (reusable && typeof held === 'string') return held;
    const minted = `${randomId(16)}.${nowSeconds() + VISITOR_LIFETIME_SECONDS}`;
    // A cookie for the browser session: the expiry that counts is the one inside, which the token's HMAC covers.
    res.cookie(visitorCookie, minted, { httpOnly: true, secure, sameSite: 'lax', path: '/' });
    return minted;
  };

  return {
    tokens: (req, res, next) => {
      // One token per response, however many forms it renders.
      let token: string | undefined;
      res.locals.csrfToken = (): string => {
        if (token !== undefined) return token;
        token = hasSessionRow(req) ? synced.generateToken(req) : visitorTokens.sign(visitorFor(req, res));
        return token;
      };
      next();
    },
    protection: (req, res, next) => {
      if (hasSessionRow(req)) {
        synced.csrfSynchronisedProtection(req, res, next);
        return;
      }
      if (SAFE_METHODS.has(req.method)) {
        next();
        return;
      }
      const held = visitorIn(req);
      const token = tokenInForm(req);
      // Missing, malformed or expired: no token can be good, whatever the HMAC would say.
      const good =
        typeof held === 'string' &&
        secondsLeft(held) !== undefined &&
        token !== undefined &&
        visitorTokens.verify(held, token);
      next(good ? undefined : refused());
    },
  };
}

/**
 * Refuses unsafe requests that the browser says come from anywhere but this
 * origin, before the token is even looked at: a Sec-Fetch-Site other than
 * `same-origin` or `none` (in any case; `same-site` too, since a sibling
 * subdomain is another party), and an Origin other than the one expected,
 * whatever Sec-Fetch-Site says. The origin expected is PUBLIC_URL's when it is
 * set; only without it is it taken from the request, where a proxy's
 * X-Forwarded-Host could name any host. One exception: `Origin: null` with
 * `Sec-Fetch-Site: same-origin`, which is what a browser sends for a form on a
 * page of this site served with `Referrer-Policy: no-referrer` (the pages
 * reached from mailed links); the browser itself vouches that it is this origin.
 */
export function sameOriginOnly(publicOrigin: string | null): RequestHandler {
  const expected = (req: Request) => publicOrigin ?? `${req.protocol}://${req.host}`;
  return (req, res, next) => {
    // The vary package (parsing what is there, merging) only when something set Vary before.
    if (res.getHeader('Vary') === undefined) res.setHeader('Vary', 'Sec-Fetch-Site');
    else res.vary('Sec-Fetch-Site');
    if (SAFE_METHODS.has(req.method)) {
      next();
      return;
    }
    const site = req.get('sec-fetch-site')?.trim().toLowerCase();
    const origin = req.get('origin');
    const otherSite = site !== undefined && site !== 'same-origin' && site !== 'none';
    const hiddenButSameOrigin = origin === 'null' && site === 'same-origin';
    const otherOrigin = origin !== undefined && origin !== expected(req) && !hiddenButSameOrigin;
    if (otherSite || otherOrigin) throw new HttpError(403, messages.errors.crossSite);
    next();
  };
}
