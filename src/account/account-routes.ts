import { Routes } from '../http/routes.js';
import type { Accounts } from '../users/accounts.js';
import { parseForm } from '../forms/parse-form.js';
import { endSession, renewSession } from '../http/current-user.js';
import { type PasswordChecks } from '../login/password-checks.js';
import { ipOf, originOf } from '../http/request-origin.js';
import { refuseIfThrottled } from '../login/too-many.js';
import type { RefusalLog } from '../audit/refusals.js';
import type { Throttle } from '../login/throttle.js';
import { flash } from '../http/flash.js';
import { messages } from '../messages.js';
import {
  deleteAccountForm,
  emailChangeForm,
  newPasswordChecks,
  passwordChangeForm,
  profileForm,
} from './account-forms.js';

export interface AccountRouteDeps {
  /** The changes these pages make (each mails what it must, in its own transaction). */
  readonly accounts: Accounts;
  readonly throttle: Throttle;
  /** Where refusals by a limit are recorded. */
  readonly refusals: RefusalLog;
  readonly passwordChecks: PasswordChecks;
}

/** Profile, email, password and deletion: every page behind login, every form with its CSRF token. */
export function accountRoutes({ accounts, throttle, refusals, passwordChecks }: AccountRouteDeps): Routes {
  const routes = new Routes();

  routes.get('/account', (req, res) => {
    const { user } = req;
    res.render('account/profile.njk', { values: { name: user.name, website: user.website ?? '' }, errors: {} });
  });

  routes.post('/account', async (req, res) => {
    const { user } = req;
    const form = parseForm(profileForm, req.body);
    if (!form.ok) return res.status(422).render('account/profile.njk', form);
    await accounts.updateProfile(user.id, form.data, originOf(req));
    flash(res, 'success', messages.account.profileSaved);
    res.redirect(303, '/account');
  });

  routes.get('/account/email', (_req, res) => {
    res.render('account/email.njk', { values: {}, errors: {} });
  });

  routes.post('/account/email', async (req, res) => {
    const { user } = req;
    const form = parseForm(emailChangeForm, req.body);
    if (!form.ok) return res.status(422).render('account/email.njk', form);
    const { email, password } = form.data;
    // Every request counts, whatever it comes to: a "taken" answer tells whether an address has
    // an account, so the per-user limit is what keeps that from becoming a lookup service.
    await refuseIfThrottled(
      refusals,
      req,
      await throttle.emailChangeRequest(user.id),
      messages.limits.emailChangeRequests,
    );
    if (email !== user.email) {
      await refuseIfThrottled(
        refusals,
        req,
        await throttle.mailLinkRequest(email, ipOf(req)),
        messages.limits.linksToAddress,
      );
    }
    const result = await passwordChecks.withPassword(req, user.email, () =>
      accounts.requestEmailChange(user.id, password, email, originOf(req)),
    );
    if (!result.ok) {
      const errors =
        result.reason === 'bad-password'
          ? { password: messages.fields.wrongPassword }
          : { email: messages.fields.emailTaken };
      return res.status(422).render('account/email.njk', { values: { email }, errors });
    }
    if (result.pending) {
      flash(res, 'info', messages.email.changeLinkSent(email));
    } else {
      flash(res, 'info', messages.email.unchanged(user.email));
    }
    res.redirect(303, '/account/email');
  });

  routes.get('/account/password', (_req, res) => {
    res.render('account/password.njk', { values: {}, errors: {} });
  });

  routes.post('/account/password', async (req, res) => {
    const { user } = req;
    const form = parseForm(passwordChangeForm, req.body, newPasswordChecks);
    if (!form.ok) return res.status(422).render('account/password.njk', form);
    const { current, password } = form.data;
    const result = await passwordChecks.withPassword(req, user.email, () =>
      accounts.changePassword(user.id, current, password, req.sessionID, originOf(req)),
    );
    if (!result.ok) {
      return res
        .status(422)
        .render('account/password.njk', { values: {}, errors: { current: messages.fields.wrongPassword } });
    }
    await renewSession(req);
    // The device key changed with the password: this browser, where the owner changed it, stays trusted.
    await passwordChecks.remember(req, res, user.email);
    flash(res, 'success', messages.account.passwordChanged);
    res.redirect(303, '/account');
  });

  routes.get('/account/delete', (_req, res) => {
    res.render('account/delete.njk', { values: {}, errors: {} });
  });

  routes.post('/account/delete', async (req, res) => {
    const { user } = req;
    const form = parseForm(deleteAccountForm, req.body);
    if (!form.ok) return res.status(422).render('account/delete.njk', { values: {}, errors: form.errors });
    const result = await passwordChecks.withPassword(req, user.email, () =>
      accounts.deleteAccount(user.id, form.data.password, originOf(req)),
    );
    if (!result.ok) {
      return res
        .status(422)
        .render('account/delete.njk', { values: {}, errors: { password: messages.fields.wrongPassword } });
    }
    await endSession(req);
    flash(res, 'info', messages.account.deleted);
    res.redirect(303, '/login');
  });

  return routes;
}
