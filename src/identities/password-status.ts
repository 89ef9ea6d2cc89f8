import type { RequestHandler } from 'express';

/**
 * Tells the account pages (`res.locals.hasPassword`) whether the signed-in account has a
 * password: one made by an identity provider may not, and its pages then offer "Set a password"
 * (a mailed link) where they would ask for the current one. Only for the account pages shown
 * (GET under /account), so the hot path (the dashboard) costs no extra query.
 */
export function passwordStatus(hasPassword: (userId: number) => Promise<boolean>): RequestHandler {
  return async (req, res, next) => {
    const user = res.locals.currentUser as { id: number } | undefined;
    if (user && (req.method === 'GET' || req.method === 'HEAD') && req.path.startsWith('/account')) {
      res.locals.hasPassword = await hasPassword(user.id);
    }
    next();
  };
}
