import { Routes, type SignedInRequest } from '../http/routes.js';
import { type Request, type Response } from 'express';
import { parseForm } from '../forms/parse-form.js';
import { saveSession } from '../http/current-user.js';
import { type PasswordChecks } from '../login/password-checks.js';
import { originOf } from '../http/request-origin.js';
import { HttpError } from '../http/errors.js';
import { flash } from '../http/flash.js';
import { messages } from '../messages.js';
import type { User } from '../users/users-repo.js';
import { passwordForm, totpConfirmForm } from './mfa-forms.js';
import type { SecondFactor, TotpEnrolment } from './second-factor.js';

declare module 'express-session' {
  interface SessionData {
    /** An authenticator app being set up: its secret, sealed, until a code confirms it. */
    totpEnrolment?: TotpEnrolment;
  }
}

export interface TwoFactorRouteDeps {
  readonly factors: SecondFactor;
  readonly passwordChecks: PasswordChecks;
  /** How many other sessions the user has: after a change the page offers to sign them out. */
  readonly otherSessions: (userId: number, currentSid: string) => Promise<number>;
  /** More of the security page, from other features (sign-in providers): a template each and its data. */
  readonly securitySections?: (userId: number) => Promise<readonly SecuritySection[]>;
}

/** A part of the security page another feature owns: its template, shown with `section.data`. */
export interface SecuritySection {
  readonly template: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/**
 * The account's security page and the second factor's settings: set up an authenticator app
 * (the secret held in the session until a code and the password confirm it), turn it off, and
 * make new recovery codes. Every change needs the current password, sends a notice, is audited,
 * and offers to sign out every other session.
 */
export function twoFactorRoutes({
  factors,
  passwordChecks,
  otherSessions,
  securitySections = async () => [],
}: TwoFactorRouteDeps): Routes {
  const routes = new Routes();

  async function showEnrolment(req: Request, res: Response, user: User, status = 200, errors = {}) {
    const enrolment = factors.enrolment(user.id, req.session.totpEnrolment);
    if (enrolment !== req.session.totpEnrolment) {
      req.session.totpEnrolment = enrolment;
      await saveSession(req);
    }
    const page = await factors.enrolmentPage(user, enrolment);
    if (!page) throw new HttpError(500, messages.twoFactor.setUpNotShown);
    res.status(status).render('account/totp-setup.njk', { setup: page, errors, values: {} });
  }

  /** The codes, shown once (with a .txt download), and the offer to sign out other sessions. */
  async function showCodes(req: Request, res: Response, user: User, codes: string[], heading: string) {
    res.render('account/recovery-codes.njk', {
      heading,
      codes,
      codesText: messages.recoveryCodes.fileInPlaceOfApp(user.email, codes),
      others: await otherSessions(user.id, req.sessionID),
    });
  }

  /** The security page: the factors, the offer to sign out other sessions, and `extra` (a form's errors). */
  async function showSecurity(req: SignedInRequest, res: Response, statusCode = 200, extra = {}) {
    const { user } = req;
    res.status(statusCode).render('account/security.njk', {
      status: await factors.status(user.id),
      others: await otherSessions(user.id, req.sessionID),
      sections: await securitySections(user.id),
      ...extra,
    });
  }

  routes.get('/account/security', async (req, res) => {
    await showSecurity(req, res);
  });

  routes.get('/account/two-factor/totp', async (req, res) => {
    const { user } = req;
    if ((await factors.status(user.id)).totpSince) {
      flash(res, 'info', messages.twoFactor.alreadySetUp);
      return res.redirect(303, '/account/security');
    }
    await showEnrolment(req, res, user);
  });

  routes.post('/account/two-factor/totp', async (req, res) => {
    const { user } = req;
    const form = parseForm(totpConfirmForm, req.body);
    if (!form.ok) return showEnrolment(req, res, user, 422, form.errors);
    if (!(await passwordChecks.confirm(req, res, user, form.data.password, 'setting up an authenticator app'))) {
      return showEnrolment(req, res, user, 422, { password: messages.fields.wrongPassword });
    }
    const result = await factors.confirm(user, req.session.totpEnrolment, form.data.code, originOf(req));
    if (!result.ok && result.reason === 'already-on') {
      flash(res, 'info', messages.twoFactor.alreadySetUp);
      return res.redirect(303, '/account/security');
    }
    if (!result.ok) {
      // An enrolment that ran out shows a new key: the code could not have matched it.
      return showEnrolment(req, res, user, 422, { code: messages.twoFactor.codeDidntWork });
    }
    delete req.session.totpEnrolment;
    await saveSession(req);
    await showCodes(req, res, user, result.codes, messages.recoveryCodes.appOnHeading);
  });

  routes.post('/account/two-factor/totp/disable', async (req, res) => {
    const { user } = req;
    const form = parseForm(passwordForm, req.body);
    if (
      !form.ok ||
      !(await passwordChecks.confirm(req, res, user, form.data.password, 'turning off the authenticator app'))
    ) {
      const errors = form.ok ? { password: messages.fields.wrongPassword } : form.errors;
      return showSecurity(req, res, 422, { disableErrors: errors });
    }
    if ((await factors.disable(user, originOf(req))).ok) {
      flash(res, 'success', messages.twoFactor.turnedOff);
    } else {
      flash(res, 'info', messages.twoFactor.notSetUp);
    }
    res.redirect(303, '/account/security');
  });

  routes.post('/account/two-factor/recovery-codes', async (req, res) => {
    const { user } = req;
    const form = parseForm(passwordForm, req.body);
    // Recovery codes stand in for a second factor: with none, there is nothing for them to replace.
    if (!(await factors.required(user.id))) {
      flash(res, 'info', messages.recoveryCodes.needAFactor);
      return res.redirect(303, '/account/security');
    }
    if (!form.ok || !(await passwordChecks.confirm(req, res, user, form.data.password, 'new recovery codes'))) {
      const errors = form.ok ? { password: messages.fields.wrongPassword } : form.errors;
      return showSecurity(req, res, 422, { codesErrors: errors });
    }
    const codes = await factors.newRecoveryCodes(user, originOf(req));
    await showCodes(req, res, user, codes, messages.recoveryCodes.newCodesHeading);
  });

  return routes;
}
