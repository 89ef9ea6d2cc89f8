import { Router } from 'express';
import { z } from 'zod';
import type { Accounts } from '../users/accounts.js';
import { HttpError, methodNotAllowed } from '../http/errors.js';
import { flash } from '../http/flash.js';
import { BAD_LOGIN, EMAIL_TAKEN, confirmMatches, loginForm, logoutForm, parseForm, signupForm } from './auth-forms.js';
import { logIn, logOut, requireAnonymous } from './current-user.js';
import { safeNext } from './safe-next.js';

const MALFORMED_FORM = 'The form you sent had missing, repeated or unexpected fields. Reload the page and try again.';
const loginQuery = z.object({ next: z.string().optional() }).catch({});

export function authRoutes(accounts: Accounts): Router {
  const router = Router();

  router.get('/signup', requireAnonymous, (_req, res) => {
    res.render('signup.njk', { values: {}, errors: {} });
  });

  router.post('/signup', requireAnonymous, async (req, res) => {
    const form = parseForm(signupForm, req.body, confirmMatches);
    if (!form.ok && form.malformed) throw new HttpError(400, MALFORMED_FORM);
    if (!form.ok) return res.status(422).render('signup.njk', form);

    const { name, email, password, website } = form.data;
    const result = await accounts.signUp({ name, email, password, website });
    if (!result.ok) {
      return res.status(422).render('signup.njk', { values: { name, email, website }, errors: { email: EMAIL_TAKEN } });
    }
    await logIn(req, result.user, false);
    flash(req, 'success', `Welcome to Gatehouse, ${result.user.name}.`);
    res.redirect(303, '/');
  });

  router.get('/login', requireAnonymous, (req, res) => {
    const { next } = loginQuery.parse(req.query);
    res.render('login.njk', { values: { next: next === undefined ? '' : safeNext(next) }, errors: {} });
  });

  router.post('/login', requireAnonymous, async (req, res) => {
    const form = parseForm(loginForm, req.body);
    if (!form.ok && form.malformed) throw new HttpError(400, MALFORMED_FORM);
    const user = form.ok ? await accounts.authenticate(form.data.email, form.data.password) : null;
    if (!form.ok || !user) {
      const values = form.ok ? { email: form.data.email, next: form.data.next ?? '' } : form.values;
      return res.status(422).render('login.njk', { values, errors: { form: BAD_LOGIN } });
    }
    await logIn(req, user, form.data.remember);
    res.redirect(303, safeNext(form.data.next));
  });

  router.get('/logout', (_req, res) => {
    res.render('logout.njk');
  });

  router.post('/logout', async (req, res) => {
    if (!parseForm(logoutForm, req.body).ok) throw new HttpError(400, MALFORMED_FORM);
    if (res.locals.currentUser) {
      await logOut(req);
      flash(req, 'info', 'You have been logged out.');
    }
    res.redirect(303, '/login');
  });

  router.all('/signup', methodNotAllowed(['GET', 'HEAD', 'POST']));
  router.all('/login', methodNotAllowed(['GET', 'HEAD', 'POST']));
  router.all('/logout', methodNotAllowed(['GET', 'HEAD', 'POST']));
  return router;
}
