import { type Request, type RequestHandler, Router } from 'express';
import { confirmMatches, parseForm } from '../auth/auth-forms.js';
import { logIn } from '../auth/current-user.js';
import { MALFORMED_FORM, ipOf, originOf, tooMany } from '../auth/route-helpers.js';
import type { Throttle } from '../auth/throttle.js';
import { HttpError } from '../http/errors.js';
import { flash } from '../http/flash.js';
import type { EmailFlows } from './email-flows.js';
import { forgotPasswordForm, linkQuery, resendVerificationForm, resetPasswordForm } from './email-flow-forms.js';

declare module 'express-session' {
  interface SessionData {
    /** A reset link's token, moved out of the URL on first use (as Django does). */
    resetToken?: string;
  }
}

export interface EmailLinkRouteDeps {
  readonly mail: EmailFlows;
  readonly throttle: Throttle;
  readonly sessionMaxSeconds: number;
}

export const LINK_SENT = 'If an account exists for that address, we have sent a link.';
const RESEND_SENT = 'If that address is waiting to be confirmed, we have sent a new link to it.';

// A page reached from a link with a secret in it tells no other site where it came from.
const noReferrer: RequestHandler = (_req, res, next) => {
  res.set('Referrer-Policy', 'no-referrer');
  next();
};

/**
 * Work whose outcome the visitor must not learn (does the account exist?)
 * runs after the answer is sent, so the answer takes the same time either way.
 */
function afterResponse(req: Request, what: string, work: () => Promise<void>): void {
  work().catch((error: unknown) => req.log.error({ err: error }, `${what} failed`));
}

/** Forgot password, the reset link, address verification and "send the link again". */
export function emailLinkRoutes({ mail, throttle, sessionMaxSeconds }: EmailLinkRouteDeps): Router {
  const router = Router();
  const invalidResetLink = (res: Parameters<RequestHandler>[1]) =>
    res.status(400).render('password/link-invalid.njk', { kind: 'reset' });

  router.get('/password/forgot', (_req, res) => {
    res.render('password/forgot.njk', { values: {}, errors: {} });
  });

  router.post('/password/forgot', async (req, res) => {
    const form = parseForm(forgotPasswordForm, req.body);
    if (!form.ok && form.malformed) throw new HttpError(400, MALFORMED_FORM);
    if (!form.ok) return res.status(422).render('password/forgot.njk', form);
    const { email } = form.data;
    const verdict = await throttle.mailLinkRequest(email, ipOf(req));
    if (!verdict.allowed) throw tooMany(verdict, 'requests for a link');
    res.render('password/forgot-sent.njk', { email, message: LINK_SENT });
    afterResponse(req, 'password reset request', () => mail.requestPasswordReset(email, originOf(req)));
  });

  router.get('/password/reset', noReferrer, async (req, res) => {
    const { token } = linkQuery.parse(req.query);
    if (req.query['token'] !== undefined) {
      // Out of the URL at once: it would otherwise stay in history, logs and Referer headers.
      req.session.resetToken = token;
      if (token === undefined) delete req.session.resetToken;
      await new Promise<void>((resolve, reject) => req.session.save((error) => (error ? reject(error) : resolve())));
      return res.redirect(303, '/password/reset');
    }
    const owner = await mail.resetLinkOwner(req.session.resetToken);
    if (!owner) return invalidResetLink(res);
    res.render('password/reset.njk', { email: owner.email, values: {}, errors: {} });
  });

  router.post('/password/reset', noReferrer, async (req, res) => {
    const form = parseForm(resetPasswordForm, req.body, confirmMatches);
    if (!form.ok && form.malformed) throw new HttpError(400, MALFORMED_FORM);
    const owner = await mail.resetLinkOwner(req.session.resetToken);
    if (!owner) return invalidResetLink(res);
    if (!form.ok) return res.status(422).render('password/reset.njk', { email: owner.email, ...form });
    const user = await mail.resetPassword(req.session.resetToken, form.data.password, originOf(req));
    if (!user) return invalidResetLink(res);
    await logIn(req, user, false, sessionMaxSeconds);
    await flash(
      req,
      'success',
      'Your password has been reset, and every other session of your account has been signed out.',
    );
    res.redirect(303, '/');
  });

  router.get('/email/verify', noReferrer, async (req, res) => {
    const { token } = linkQuery.parse(req.query);
    const outcome = await mail.verifyEmail(token, originOf(req));
    if (outcome === 'invalid') return res.status(400).render('password/link-invalid.njk', { kind: 'verify' });
    if (outcome === 'taken') {
      throw new HttpError(409, 'That address now belongs to another account, so it cannot become yours.');
    }
    await flash(
      req,
      'success',
      outcome === 'changed'
        ? 'Your new email address is confirmed: log in with it from now on.'
        : 'Your email address is confirmed. Thank you.',
    );
    res.redirect(303, res.locals.currentUser ? '/' : '/login');
  });

  router.post('/email/verify/send', async (req, res) => {
    const form = parseForm(resendVerificationForm, req.body);
    if (!form.ok) throw new HttpError(400, MALFORMED_FORM);
    const user = res.locals.currentUser;
    const address = user ? (user.pendingEmail ?? user.email) : (form.data.email ?? '');
    const verdict = await throttle.mailLinkRequest(address, ipOf(req));
    if (!verdict.allowed) throw tooMany(verdict, 'requests for a link');
    if (user) {
      if (user.emailVerifiedAt && !user.pendingEmail) {
        await flash(req, 'info', 'Your email address is already confirmed.');
      } else {
        await mail.sendVerification(user);
        await flash(req, 'success', `We have sent a new link to ${address}.`);
      }
      return res.redirect(303, user.pendingEmail ? '/account/email' : '/');
    }
    await flash(req, 'info', RESEND_SENT);
    res.redirect(303, '/login');
    afterResponse(req, 'verification resend', () => mail.resendVerification(address));
  });

  return router;
}
