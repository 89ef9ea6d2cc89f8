import { Routes } from '../http/routes.js';
import { type CookieOptions, type Request, type RequestHandler, type Response } from 'express';
import { confirmMatches, parseFixedForm, parseForm } from '../forms/parse-form.js';
import { emailField } from '../forms/fields.js';
import type { LoginSteps } from '../login/login-steps.js';
import { originOf } from '../http/request-origin.js';
import { HttpError } from '../http/errors.js';
import { flash } from '../http/flash.js';
import { messages } from '../messages.js';
import type { User } from '../users/users-repo.js';
import type { EmailFlows } from './email-flows.js';
import {
  forgotPasswordForm,
  linkForm,
  linkQuery,
  resendVerificationForm,
  resetPasswordForm,
} from './email-flow-forms.js';

export interface EmailLinkRouteDeps {
  readonly mail: EmailFlows;
  readonly steps: LoginSteps;
  /** Production: cookies are Secure (and the reset cookie __Secure- prefixed). */
  readonly secure: boolean;
}

/**
 * A reset link's token between the link and the form: moved out of the URL at once (as Django
 * does), into a cookie only /password/reset sees, HttpOnly, for 15 minutes: long enough to type a
 * new password, and the token itself still expires with the link (the form checks it again).
 * SameSite=Lax, not Strict: a Strict cookie set by the link's response is not sent on the redirect
 * that follows a click from a webmail page (another site), so the form would never find it.
 */
function resetTokenCookie(secure: boolean) {
  const name = secure ? '__Secure-gatehouse.reset' : 'gatehouse.reset';
  const options: CookieOptions = { httpOnly: true, secure, sameSite: 'lax', path: '/password/reset' };
  return {
    read: (req: Request): unknown => (req.cookies as Record<string, unknown> | undefined)?.[name],
    keep: (res: Response, token: string) => res.cookie(name, token, { ...options, maxAge: RESET_COOKIE_MS }),
    drop: (res: Response) => res.clearCookie(name, options),
  };
}
const RESET_COOKIE_MS = 15 * 60 * 1000;

// A page reached from a link with a secret in it tells no other site where it came from.
const noReferrer: RequestHandler = (_req, res, next) => {
  res.set('Referrer-Policy', 'no-referrer');
  next();
};

/**
 * Forgot password, the reset link, address verification, "send the link
 * again", and cancelling an email change. A mailed link never changes anything
 * on GET: it shows a page whose one button POSTs, so a mail scanner that
 * fetches every link confirms nothing and cancels nothing.
 */
export function emailLinkRoutes({ mail, steps, secure }: EmailLinkRouteDeps): Routes {
  const routes = new Routes();
  const resetToken = resetTokenCookie(secure);
  const invalidLink = (res: Response, kind: 'reset' | 'verify' | 'cancel') =>
    res.status(400).render('password/link-invalid.njk', { kind });
  /** A reset link for another account than the one logged in here: never stored, never used. */
  const otherAccount = (res: Response) =>
    res.status(409).render('password/reset-other-account.njk', { title: messages.passwordReset.otherAccount });
  const forSomeoneElse = (res: Response, owner: User) => {
    const current = res.locals.currentUser;
    return current !== null && current.id !== owner.id;
  };

  routes.public.get('/password/forgot', (_req, res) => {
    res.render('password/forgot.njk', { values: {}, errors: {} });
  });

  routes.public.post('/password/forgot', async (req, res) => {
    const form = parseForm(forgotPasswordForm, req.body);
    if (!form.ok) return res.status(422).render('password/forgot.njk', form);
    const { email } = form.data;
    await mail.askForPasswordReset(email, { origin: originOf(req), device: null });
    res.render('password/forgot-sent.njk', { email, message: messages.passwordReset.linkSent });
  });

  routes.public.get('/password/reset', noReferrer, async (req, res) => {
    if (req.query['token'] !== undefined) {
      const { token } = linkQuery.parse(req.query);
      const owner = await mail.resetLinkOwner(token);
      if (owner && forSomeoneElse(res, owner)) return otherAccount(res);
      // Out of the URL at once: it would otherwise stay in history, logs and Referer headers.
      if (owner && token) resetToken.keep(res, token);
      else resetToken.drop(res);
      return res.redirect(303, '/password/reset');
    }
    const owner = await mail.resetLinkOwner(resetToken.read(req));
    if (!owner) return invalidLink(res, 'reset');
    if (forSomeoneElse(res, owner)) return otherAccount(res);
    res.render('password/reset.njk', { email: owner.email, values: {}, errors: {} });
  });

  routes.public.post('/password/reset', noReferrer, async (req, res) => {
    const form = parseForm(resetPasswordForm, req.body, confirmMatches);
    const token = resetToken.read(req);
    const owner = await mail.resetLinkOwner(token);
    if (!owner) return invalidLink(res, 'reset');
    if (forSomeoneElse(res, owner)) return otherAccount(res);
    if (!form.ok) return res.status(422).render('password/reset.njk', { email: owner.email, ...form });
    const reset = await mail.resetPassword(token, form.data.password, originOf(req));
    if (!reset.ok) return invalidLink(res, 'reset');
    resetToken.drop(res);
    flash(res, 'success', messages.passwordReset.done);
    // A reset never gets around a second factor: with one, it ends at /login/two-factor.
    await steps.firstStepDone(req, res, reset.user, { remember: false, next: '/' }, 'password reset');
  });

  routes.public.get('/email/verify', noReferrer, async (req, res) => {
    const { token } = linkQuery.parse(req.query);
    const address = await mail.verificationTarget(token);
    if (!address) return invalidLink(res, 'verify');
    res.render('email/verify.njk', { token, address });
  });

  routes.public.post('/email/verify', noReferrer, async (req, res) => {
    const form = parseFixedForm(linkForm, req.body);
    const verified = await mail.verifyEmail(form.token, originOf(req));
    if (!verified.ok) {
      if (verified.reason === 'taken') throw new HttpError(409, messages.email.takenMeanwhile);
      return invalidLink(res, 'verify');
    }
    flash(res, 'success', verified.changed ? messages.email.changeConfirmed : messages.email.confirmed);
    res.redirect(303, res.locals.currentUser ? '/' : '/login');
  });

  routes.public.get('/email/change/cancel', noReferrer, async (req, res) => {
    const { token } = linkQuery.parse(req.query);
    const change = await mail.cancelLinkTarget(token);
    if (!change) return invalidLink(res, 'cancel');
    res.render('email/cancel-change.njk', { token, change });
  });

  routes.public.post('/email/change/cancel', noReferrer, async (req, res) => {
    const form = parseFixedForm(linkForm, req.body);
    const result = await mail.cancelEmailChange(form.token, originOf(req));
    if (!result.ok) {
      if (result.reason === 'taken') throw new HttpError(409, messages.email.oldAddressTaken(result.email));
      return invalidLink(res, 'cancel');
    }
    // The session that posted this may be one that just ended: the page stands on its own.
    res.locals.currentUser = null;
    res.render('email/change-cancelled.njk', { result });
  });

  routes.public.post('/email/verify/send', async (req, res) => {
    const form = parseFixedForm(resendVerificationForm, req.body);
    const user = res.locals.currentUser;
    const address = user ? (user.pendingEmail ?? user.email) : (form.email ?? '');
    // A typed address is queued the same way whether or not it has an account waiting.
    const typed = emailField.safeParse(address);
    const asked = await mail.askForVerificationAgain(user, typed.success ? typed.data : null, address, {
      origin: originOf(req),
      device: null,
    });
    if (user) {
      if (asked.ok) flash(res, 'success', messages.email.newLinkSent(address));
      else flash(res, 'info', messages.email.alreadyConfirmed);
      return res.redirect(303, user.pendingEmail ? '/account/email' : '/');
    }
    flash(res, 'info', messages.email.resendSent);
    res.redirect(303, '/login');
  });

  return routes;
}
