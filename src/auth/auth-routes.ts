import { Routes } from '../http/routes.js';
import { z } from 'zod';
import type { LoginFlow } from '../flows/login.js';
import type { SignUpFlow } from '../flows/sign-up.js';
import { flash } from '../http/flash.js';
import { confirmMatches, parseFixedForm, parseForm } from '../forms/parse-form.js';
import { loginForm, signupForm } from './auth-forms.js';
import { buttonForm } from '../forms/fields.js';
import { endSession, logIn, requireAnonymous } from '../http/current-user.js';
import type { LoginSteps } from '../login/login-steps.js';
import type { LoginStages, StartPageView } from '../login/stages.js';
import type { Response } from 'express';
import { safeNext } from '../http/safe-next.js';
import { type PasswordChecks } from '../login/password-checks.js';
import { originOf } from '../http/request-origin.js';
import { messages } from '../messages.js';

const loginQuery = z.object({ next: z.string().optional() }).catch({});
const LOGIN_PATH = '/login';

export interface AuthRouteDeps {
  /** Signing up (its limit, the account, its audit row and its link to the address, in one transaction). */
  readonly signUp: SignUpFlow;
  /** The password checked (counted against the login limits first), and logging out. */
  readonly login: Pick<LoginFlow, 'withPassword' | 'loggedOut'>;
  readonly passwordChecks: Pick<PasswordChecks, 'callerFor' | 'remember'>;
  readonly steps: LoginSteps;
  /** Logging in needs a verified address; signing up then waits for the link. */
  readonly requireVerifiedEmail: boolean;
  /** This feature defines the login page there, where every way in starts. */
  readonly stages: LoginStages;
}

export function authRoutes({
  signUp,
  login,
  passwordChecks,
  steps,
  requireVerifiedEmail,
  stages,
}: AuthRouteDeps): Routes {
  const routes = new Routes();
  // The login page offers every other way in that has offered itself (a code by email, ...).
  const loginPage = (res: Response, status: number, view: StartPageView) =>
    res.status(status).render('login.njk', { ...view, waysIn: stages.waysIn, providers: stages.providers });
  stages.defineStart({ path: LOGIN_PATH, show: loginPage });

  routes.public.get('/signup', requireAnonymous, (_req, res) => {
    res.render('signup.njk', { values: {}, errors: {}, providers: stages.providers });
  });

  routes.public.post('/signup', requireAnonymous, async (req, res) => {
    const form = parseForm(signupForm, req.body, confirmMatches);
    if (!form.ok) return res.status(422).render('signup.njk', { ...form, providers: stages.providers });

    const { name, email, password, website } = form.data;
    const result = await signUp.signUp({ name, email, password, website }, originOf(req));
    if (!result.ok) {
      return res.status(422).render('signup.njk', {
        values: { name, email, website },
        errors: { email: messages.fields.emailTaken },
        providers: stages.providers,
      });
    }
    if (requireVerifiedEmail) {
      flash(res, 'info', messages.signup.linkSent(email));
      return res.redirect(303, '/login');
    }
    await logIn(req, result.user, null);
    // Signing up is a whole login: this browser is the account's first.
    await passwordChecks.remember(req, res, email);
    // A fixed text: the session keeps nothing about the user but the id.
    flash(res, 'success', messages.signup.welcome);
    res.redirect(303, '/');
  });

  routes.public.get('/login', requireAnonymous, (req, res) => {
    const { next } = loginQuery.parse(req.query);
    loginPage(res, 200, { values: { next: next === undefined ? '' : safeNext(next) }, errors: {} });
  });

  routes.public.post('/login', requireAnonymous, async (req, res) => {
    const form = parseForm(loginForm, req.body);
    const email = form.ok ? form.data.email : (form.values['email'] ?? '');
    // An unreadable form (empty, over 72 bytes, a NUL) is still counted and costs a comparison.
    const checked = await login.withPassword(
      email,
      form.ok ? form.data.password : null,
      await passwordChecks.callerFor(req, email),
    );
    if (!form.ok || !checked.ok) {
      const next = form.ok ? form.data.next : form.values['next'];
      const values = { ...(form.ok ? { email } : form.values), next: next ? safeNext(next) : '' };
      return loginPage(res, 422, { values, errors: { form: messages.login.badLogin } });
    }
    // With REQUIRE_VERIFIED_EMAIL, an unconfirmed address is refused there, as on every way in.
    await steps.firstStepDone(
      req,
      res,
      checked.user,
      { remember: form.data.remember, next: safeNext(form.data.next) },
      'password',
    );
  });

  routes.public.get('/logout', (_req, res) => {
    res.render('logout.njk');
  });

  routes.public.post('/logout', async (req, res) => {
    parseFixedForm(buttonForm, req.body);
    const user = res.locals.currentUser;
    if (user) {
      await endSession(req);
      await login.loggedOut(user.id, originOf(req));
      flash(res, 'info', messages.logout.loggedOut);
    }
    res.redirect(303, '/login');
  });

  return routes;
}
