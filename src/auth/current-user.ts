import type { Request, RequestHandler } from 'express';
import type { Accounts } from '../users/accounts.js';
import type { User } from '../users/users-repo.js';
import { flash } from '../http/flash.js';
import { REMEMBER_ME_MS } from '../http/session.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      currentUser: User | null;
    }
  }
}

export const LOGIN_REQUIRED = 'You must be logged in to view that page.';

const regenerate = (req: Request) =>
  new Promise<void>((resolve, reject) => req.session.regenerate((error) => (error ? reject(error) : resolve())));
const save = (req: Request) =>
  new Promise<void>((resolve, reject) => req.session.save((error) => (error ? reject(error) : resolve())));

/** Loads the session's user on every request; a deleted or deactivated user loses the session. */
export const loadCurrentUser =
  (accounts: Accounts): RequestHandler =>
  async (req, res, next) => {
    res.locals.currentUser = null;
    const userId = req.session.userId;
    if (userId !== undefined) {
      const user = await accounts.activeUser(userId);
      if (user) res.locals.currentUser = user;
      else await regenerate(req);
    }
    next();
  };

/** Sends anonymous visitors to the login page, with the page they asked for as `next`. */
export const requireLogin: RequestHandler = (req, res, next) => {
  if (res.locals.currentUser) {
    next();
    return;
  }
  flash(req, 'info', LOGIN_REQUIRED);
  res.redirect(302, `/login?next=${encodeURIComponent(req.originalUrl)}`);
};

export const requireAnonymous: RequestHandler = (_req, res, next) => {
  if (res.locals.currentUser) res.redirect(303, '/');
  else next();
};

/**
 * A new session id for the logged-in user (the old one stops working: no
 * fixation), holding only the user id; "remember me" makes the cookie last 30 days.
 */
export async function logIn(req: Request, user: User, remember: boolean): Promise<void> {
  await regenerate(req);
  req.session.userId = user.id;
  if (remember) req.session.cookie.maxAge = REMEMBER_ME_MS;
  await save(req);
}

/** Destroys the session row; the visitor gets a fresh, empty session for the goodbye message. */
export async function logOut(req: Request): Promise<void> {
  await regenerate(req);
}
