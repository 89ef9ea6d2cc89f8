import type { Request, RequestHandler } from 'express';
import type { SessionData } from 'express-session';
import { messages } from '../messages.js';
import type { User } from '../users/users-repo.js';
import { bindCsrfToSession, hasSessionRow } from './csrf.js';
import { flash } from './flash.js';
import { originOf } from './request-origin.js';
import { type Sessions, loadedUser } from './session.js';
import { safeNext } from './safe-next.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /**
       * The logged-in user (as Passport and express-openid-connect name it); undefined for a
       * visitor. On a protected route (every route not declared public) it is always there.
       */
      user?: User;
    }
    interface Locals {
      /** The same user, for templates; null for a visitor. */
      currentUser: User | null;
    }
  }
}

/** Instances' clocks may differ a little; a time further ahead than this is not believed. */
const CLOCK_SKEW_MS = 60_000;

/**
 * True when `sinceMs` (ms since the epoch) is at most `limitMs` ago, allowing for another
 * instance's clock; false for a time further ahead, or one that is not a finite number.
 */
export function isRecent(sinceMs: number, limitMs: number): boolean {
  const age = Date.now() - sinceMs;
  return age >= -CLOCK_SKEW_MS && age <= limitMs;
}

/**
 * A new, empty session in place of the request's (whose row, if any, is deleted). Through the
 * store, so it works whether or not the request still has a session object.
 */
const regenerate = (req: Request) =>
  new Promise<void>((resolve, reject) =>
    req.sessionStore.regenerate(req, (error) => (error ? reject(error) : resolve())),
  );
const save = (req: Request) =>
  new Promise<void>((resolve, reject) => req.session.save((error) => (error ? reject(error) : resolve())));

/**
 * Ends the request's session: its row is deleted and, unlike a regenerate, no new one is made
 * (express-session would save a regenerated session, empty or not). The request goes on with
 * no session at all.
 */
export const endSession = (req: Request): Promise<void> =>
  new Promise<void>((resolve, reject) => {
    if (!req.session) return resolve();
    req.session.destroy((error) => (error ? reject(error) : resolve()));
  });

/**
 * The session's user on every request, as the store read it with the session
 * (one statement). A deleted or deactivated user, or a session past its
 * absolute lifetime, loses the session. (The idle timeout is the session row's
 * own expiry, which the store checks on every read.) A browser that still
 * sends the cookie of a session that is gone is told to drop it, so its later
 * page views look nothing up.
 */
export const loadCurrentUser =
  (sessions: Pick<Sessions, 'hasCookie' | 'forgetCookie'>, maxLifetimeSeconds: number): RequestHandler =>
  (req, res, next) => {
    res.locals.currentUser = null;
    req.user = undefined;
    const goOn = () => {
      if (!hasSessionRow(req) && (req.method === 'GET' || req.method === 'HEAD') && sessions.hasCookie(req)) {
        sessions.forgetCookie(res);
      }
      next();
    };
    // No session at all for a page asked for without the session cookie (session.ts).
    const { userId, authAt } = (req.session as typeof req.session | undefined) ?? {};
    if (userId === undefined) return goOn();
    // A login time that is not a number, or lies in the future, is no login time: the session ends.
    const expired = !isRecent(typeof authAt === 'number' ? authAt : Number.NaN, maxLifetimeSeconds * 1000);
    const user = expired ? null : loadedUser(req);
    if (user && user.id === userId) {
      res.locals.currentUser = user;
      req.user = user;
      return goOn();
    }
    // Asynchronous only when the session has to end.
    endSession(req)
      .then(() => {
        if (expired) flash(res, 'info', messages.login.sessionExpired);
        goOn();
      })
      .catch(next);
  };

/**
 * Where to come back to after logging in (or confirming it is you): the page itself for a GET;
 * for a form post, the page the form was on (its Referer, when that is a page of this site).
 */
export function returnPath(req: Request): string {
  if (req.method === 'GET' || req.method === 'HEAD') return safeNext(req.originalUrl);
  const referer = req.get('referer');
  if (referer === undefined) return '/';
  try {
    const url = new URL(referer);
    return url.host === req.get('host') ? safeNext(`${url.pathname}${url.search}`) : '/';
  } catch {
    return '/';
  }
}

/** Sends anonymous visitors to the login page, with the page they asked for as `next`. */
export const requireLogin: RequestHandler = (req, res, next) => {
  if (req.user) {
    next();
    return;
  }
  flash(res, 'info', messages.login.required);
  res.redirect(302, `/login?next=${encodeURIComponent(returnPath(req))}`);
};

export const requireAnonymous: RequestHandler = (_req, res, next) => {
  if (res.locals.currentUser) res.redirect(303, '/');
  else next();
};

/**
 * A new session id (the old one stops working: no fixation) holding `fields`, where the request
 * came from, and the CSRF token its forms will carry; the cookie lasts `maxAgeMs` (null: until the
 * browser closes). This is where a session row is first written.
 */
export async function startSession(req: Request, fields: Partial<SessionData>, maxAgeMs: number | null): Promise<void> {
  await regenerate(req);
  Object.assign(req.session, fields);
  req.session.client = originOf(req);
  bindCsrfToSession(req);
  if (maxAgeMs !== null) req.session.cookie.maxAge = maxAgeMs;
  await save(req);
}

/**
 * Logs the user in on a new session holding the user id and the login time; "remember me"
 * makes the cookie last `rememberMs` (the caller keeps it within the absolute lifetime).
 */
export const logIn = (req: Request, user: User, rememberMs: number | null): Promise<void> =>
  startSession(req, { userId: user.id, authAt: Date.now() }, rememberMs);

/** Saves a change to the session (a registration's passkey challenges, an enrolment in progress). */
export const saveSession = save;

/**
 * A new id for the current session (after a password change), keeping who is
 * logged in, since when, and "remember me": whoever held the old id holds nothing.
 */
export async function renewSession(req: Request): Promise<void> {
  const { userId, authAt, confirmedAt } = req.session;
  const kept = confirmedAt === undefined ? { userId, authAt } : { userId, authAt, confirmedAt };
  await startSession(req, kept, req.session.cookie.originalMaxAge);
}
