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

/** Keeps a message in the session until the next page that renders it. */
export function flash(req: Request, kind: Flash['kind'], text: string): void {
  req.session.flash = [...(req.session.flash ?? []), { kind, text }];
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
