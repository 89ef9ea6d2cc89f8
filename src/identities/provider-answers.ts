import type { Request, RequestHandler } from 'express';

/** A provider's form_post answer: a POST to /login/oidc/NAME/callback (the route only sends it on to the GET). */
const ANSWER_PATH = /^\/login\/oidc\/[a-z0-9-]{1,40}\/callback$/;

export const isProviderAnswer = (req: Request): boolean => req.method === 'POST' && ANSWER_PATH.test(req.path);

/** A provider sends the browser back here with a GET, and a sign-in there is a login: it may start a session. */
export const isProviderCallback = (req: Request): boolean => req.method === 'GET' && ANSWER_PATH.test(req.path);

/**
 * `check` (the same-origin check, the CSRF token) for every request but a provider's form_post
 * answer, which comes from the provider's site without our token by design (OpenID Connect Form
 * Post Response Mode). Its route changes nothing: it redirects to the GET callback, where the
 * flow's single-use state, bound to this browser, is checked.
 */
export const exceptProviderAnswers =
  (check: RequestHandler): RequestHandler =>
  (req, res, next) => {
    if (isProviderAnswer(req)) {
      next();
      return;
    }
    check(req, res, next);
  };
