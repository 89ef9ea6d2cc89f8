import { Routes } from '../http/routes.js';
import { z } from 'zod';
import type { Accounts, Origin } from '../users/accounts.js';
import type { User } from '../users/users-repo.js';
import { HttpError } from '../http/errors.js';
import { flash } from '../http/flash.js';
import { BAD_LOGIN, EMAIL_TAKEN } from '../forms/fields.js';
import { confirmMatches, parseForm } from '../forms/parse-form.js';
import { loginForm, logoutForm, signupForm } from './auth-forms.js';
import { logIn, logOut, requireAnonymous } from '../http/current-user.js';
import type { LoginSteps } from '../login/login-steps.js';
import { safeNext } from '../http/safe-next.js';
import { MALFORMED_FORM } from '../http/form-body.js';
import { type PasswordChecks } from '../login/password-checks.js';
import { ipOf, originOf } from '../http/request-origin.js';
import { refuseIfThrottled } from '../login/too-many.js';
import type { Throttle } from '../login/throttle.js';

const loginQuery = z.object({ next: z.string().optional() }).catch({});

export interface AuthRouteDeps {
  readonly accounts: Accounts;
  /** The welcome (or verify-your-address) mail: email-flows/ sends it. */
  readonly mail: { signedUp(user: User, origin: Origin): Promise<void> };
  readonly throttle: Throttle;
  readonly passwordChecks: PasswordChecks;
  readonly steps: LoginSteps;
  readonly sessionMaxSeconds: number;
  /** Logging in needs a verified address; signing up then waits for the link. */
  readonly requireVerifiedEmail: boolean;
}

export const UNVERIFIED_LOGIN =
  'Confirm your email address before you log in: follow the link we sent to it. No link, or too late? Send a new one below.';

export function authRoutes({
  accounts,
  mail,
  throttle,
  passwordChecks,
  steps,
  sessionMaxSeconds,
  requireVerifiedEmail,
}: AuthRouteDeps): Routes {
  const routes = new Routes();

  routes.public.get('/signup', requireAnonymous, (_req, res) => {
    res.render('signup.njk', { values: {}, errors: {} });
  });

  routes.public.post('/signup', requireAnonymous, async (req, res) => {
    const form = parseForm(signupForm, req.body, confirmMatches);
    if (!form.ok && form.malformed) throw new HttpError(400, MALFORMED_FORM);
    if (!form.ok) return res.status(422).render('signup.njk', form);

    await refuseIfThrottled(accounts, req, await throttle.signupAttempt(ipOf(req)), 'sign-ups');
    const { name, email, password, website } = form.data;
    const result = await accounts.signUp({ name, email, password, website }, originOf(req));
    if (!result.ok) {
      return res.status(422).render('signup.njk', { values: { name, email, website }, errors: { email: EMAIL_TAKEN } });
    }
    await mail.signedUp(result.user, originOf(req));
    passwordChecks.remember(req, res, email);
    if (requireVerifiedEmail) {
      flash(res, 'info', `Your account is ready. We have sent a link to ${email}: follow it, then log in.`);
      return res.redirect(303, '/login');
    }
    await logIn(req, result.user, false, sessionMaxSeconds);
    // A fixed text: the session keeps nothing about the user but the id.
    flash(res, 'success', 'Welcome to Gatehouse! Your account is ready.');
    res.redirect(303, '/');
  });

  routes.public.get('/login', requireAnonymous, (req, res) => {
    const { next } = loginQuery.parse(req.query);
    res.render('login.njk', { values: { next: next === undefined ? '' : safeNext(next) }, errors: {} });
  });

  routes.public.post('/login', requireAnonymous, async (req, res) => {
    const form = parseForm(loginForm, req.body);
    if (!form.ok && form.malformed) throw new HttpError(400, MALFORMED_FORM);
    const email = form.ok ? form.data.email : (form.values['email'] ?? '');
    // Counted before any password is checked, so a throttled guess learns nothing.
    await passwordChecks.count(req, email, 'failed logins');
    const user = form.ok
      ? await accounts.authenticate(email, form.data.password, originOf(req))
      : await accounts.refuseLogin(email, originOf(req)).then(() => null);
    if (!form.ok || !user) {
      const next = form.ok ? form.data.next : form.values['next'];
      const values = { ...(form.ok ? { email } : form.values), next: next ? safeNext(next) : '' };
      return res.status(422).render('login.njk', { values, errors: { form: BAD_LOGIN } });
    }
    await passwordChecks.succeeded(req, res, email);
    if (requireVerifiedEmail && user.emailVerifiedAt === null) {
      const values = { email, next: safeNext(form.data.next) };
      return res.status(403).render('login.njk', { values, errors: { form: UNVERIFIED_LOGIN }, unverified: email });
    }
    await steps.firstStepDone(
      req,
      res,
      user,
      { remember: form.data.remember, next: safeNext(form.data.next) },
      'password',
    );
  });

  routes.public.get('/logout', (_req, res) => {
    res.render('logout.njk');
  });

  routes.public.post('/logout', async (req, res) => {
    if (!parseForm(logoutForm, req.body).ok) throw new HttpError(400, MALFORMED_FORM);
    const user = res.locals.currentUser;
    if (user) {
      await logOut(req);
      await accounts.loggedOut(user.id, originOf(req));
      flash(res, 'info', 'You have been logged out.');
    }
    res.redirect(303, '/login');
  });

  return routes;
}
