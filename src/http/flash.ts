import type { Request, RequestHandler } from 'express';

export interface Flash {
  readonly kind: 'info' | 'success' | 'error';
  readonly text: string;
}

declare module 'express-session' {
  interface SessionData {
    flash?: Flash[];
  }
}

/**
 * Keeps a message in the session until the next page that renders it, and
 * saves the session now: express-session would otherwise send a redirect
 * before its save finished, and the browser could fetch the next page first.
 */
export function flash(req: Request, kind: Flash['kind'], text: string): Promise<void> {
  req.session.flash = [...(req.session.flash ?? []), { kind, text }];
  return new Promise((resolve, reject) => req.session.save((error) => (error ? reject(error) : resolve())));
}

/** Gives templates `takeFlashes()`, which reads and clears the messages; redirects leave them in place. */
export const flashMessages: RequestHandler = (req, res, next) => {
  res.locals.takeFlashes = (): Flash[] => {
    const messages = req.session.flash ?? [];
    if (req.session.flash) delete req.session.flash;
    return messages;
  };
  next();
};
