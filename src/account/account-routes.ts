import { Routes } from '../http/routes.js';
import type { DeletionFlow } from '../flows/deletion.js';
import type { EmailChangeFlow } from '../flows/email-change.js';
import type { PasswordChangeFlow } from '../flows/password-change.js';
import type { ProfileFlow } from '../flows/profile.js';
import { parseForm } from '../forms/parse-form.js';
import { endSession, renewSession } from '../http/current-user.js';
import { type PasswordChecks } from '../login/password-checks.js';
import { originOf } from '../http/request-origin.js';
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
  /** The changes these pages make: each checks its limits and mails what it must, in its own transaction. */
  readonly profile: Pick<ProfileFlow, 'updateProfile'>;
  readonly emailChange: EmailChangeFlow;
  readonly passwordChange: PasswordChangeFlow;
  readonly deletion: DeletionFlow;
  readonly passwordChecks: Pick<PasswordChecks, 'callerFor' | 'remember'>;
}

/** Profile, email, password and deletion: every page behind login, every form with its CSRF token. */
export function accountRoutes({
  profile,
  emailChange,
  passwordChange,
  deletion,
  passwordChecks,
}: AccountRouteDeps): Routes {
  const routes = new Routes();

  routes.get('/account', (req, res) => {
    const { user } = req;
    res.render('account/profile.njk', { values: { name: user.name, website: user.website ?? '' }, errors: {} });
  });

  routes.post('/account', async (req, res) => {
    const { user } = req;
    const form = parseForm(profileForm, req.body);
    if (!form.ok) return res.status(422).render('account/profile.njk', form);
    await profile.updateProfile(user.id, form.data, originOf(req));
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
    const result = await emailChange.requestEmailChange(
      user,
      { email, password },
      await passwordChecks.callerFor(req, user.email),
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
    const result = await passwordChange.changePassword(
      user,
      { current, next: password, keepSid: req.sessionID },
      await passwordChecks.callerFor(req, user.email),
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
    const result = await deletion.deleteAccount(
      user,
      form.data.password,
      await passwordChecks.callerFor(req, user.email),
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
