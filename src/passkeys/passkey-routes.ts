import type { Transactions } from '../db/transactions.js';
import { Routes } from '../http/routes.js';
import { type Request, type Response } from 'express';
import { buttonForm } from '../forms/fields.js';
import { parseFixedForm, parseForm } from '../forms/parse-form.js';
import { saveSession } from '../http/current-user.js';
import { type PasswordChecks } from '../login/password-checks.js';
import { originOf } from '../http/request-origin.js';
import { HttpError } from '../http/errors.js';
import { flash } from '../http/flash.js';
import { messages } from '../messages.js';
import type { Origin } from '../users/origin.js';
import type { User } from '../users/users-repo.js';
import { addPasskeyForm, registrationFrom, removePasskeyForm } from './passkey-forms.js';
import type { PasskeyCeremonies } from './passkeys.js';
import { type PendingChallenge, addChallenge, takeChallenge } from './pending-challenges.js';

declare module 'express-session' {
  interface SessionData {
    /** Challenges of passkey registrations going on in this session, one per ceremony. */
    passkeyRegistrations?: PendingChallenge[];
  }
}

/** What adding or removing a passkey does to the second factor's recovery codes. */
export interface PasskeyFactorHooks {
  /** The codes to show once when this is the account's first second factor; else null. */
  codesForNewFactor(user: User, origin: Origin): Promise<string[] | null>;
  /** A factor went: with none left, the recovery codes go too. */
  factorRemoved(userId: number): Promise<void>;
}

export interface PasskeyRouteDeps {
  readonly ceremonies: PasskeyCeremonies;
  readonly factors: PasskeyFactorHooks;
  readonly passwordChecks: PasswordChecks;
  readonly otherSessions: (userId: number, currentSid: string) => Promise<number>;
  /** Removing a passkey, and the recovery codes it leaves standing for nothing, is one change. */
  readonly atomically: Transactions['atomically'];
}

/**
 * The account's passkeys: the list (name, added, last used), adding one (the browser makes
 * it with a challenge kept in this logged-in session; the form brings its answer, a name and
 * the current password) and removing one (the password again). Each change is mailed to the
 * owner and audited.
 */
export function passkeyRoutes({
  ceremonies,
  factors,
  passwordChecks,
  otherSessions,
  atomically,
}: PasskeyRouteDeps): Routes {
  const routes = new Routes();

  async function showPage(req: Request, res: Response, user: User, status = 200, extra: Record<string, unknown> = {}) {
    res.status(status).render('account/passkeys.njk', {
      passkeys: await ceremonies.list(user.id),
      others: await otherSessions(user.id, req.sessionID),
      values: {},
      errors: {},
      ...extra,
    });
  }

  routes.get('/account/passkeys', async (req, res) => {
    await showPage(req, res, req.user);
  });

  // The options for the browser's navigator.credentials.create(), as JSON; the challenge stays here.
  routes.post('/account/passkeys/options', async (req, res) => {
    const { user } = req;
    parseFixedForm(buttonForm, req.body);
    if (!ceremonies.rp.available) throw new HttpError(409, messages.passkeys.needName);
    const options = await ceremonies.registrationOptions(user);
    req.session.passkeyRegistrations = addChallenge(req.session.passkeyRegistrations ?? [], options.challenge);
    await saveSession(req);
    res.json(options);
  });

  routes.post('/account/passkeys', async (req, res) => {
    const { user } = req;
    const form = parseForm(addPasskeyForm, req.body);
    if (!form.ok) return showPage(req, res, user, 422, { errors: form.errors, values: form.values });
    const { name, password, credential } = form.data;
    if (!(await passwordChecks.confirm(req, res, user, password, 'adding a passkey'))) {
      return showPage(req, res, user, 422, { errors: { password: messages.fields.wrongPassword }, values: { name } });
    }
    const response = registrationFrom(credential);
    // The answer's challenge must be one this session issued, still good; it is used up either way.
    const isExpected = (challenge: string) => {
      const { found, rest } = takeChallenge(req.session.passkeyRegistrations ?? [], challenge);
      req.session.passkeyRegistrations = rest;
      return found !== null;
    };
    const result = response ? await ceremonies.register(user, response, isExpected, name, originOf(req)) : null;
    await saveSession(req);
    if (!result?.ok)
      return showPage(req, res, user, 422, { errors: { credential: messages.passkeys.notAdded }, values: { name } });

    const codes = await factors.codesForNewFactor(user, originOf(req));
    if (codes) {
      return res.render('account/recovery-codes.njk', {
        heading: messages.recoveryCodes.passkeyAddedHeading(name),
        codes,
        codesText: messages.recoveryCodes.fileInPlaceOfPasskey(user.email, codes),
        others: await otherSessions(user.id, req.sessionID),
      });
    }
    flash(res, 'success', messages.passkeys.added(name));
    res.redirect(303, '/account/passkeys');
  });

  routes.post('/account/passkeys/remove', async (req, res) => {
    const { user } = req;
    const form = parseForm(removePasskeyForm, req.body);
    if (!form.ok) return showPage(req, res, user, 422, { removeErrors: form.errors });
    if (!(await passwordChecks.confirm(req, res, user, form.data.password, 'removing a passkey'))) {
      return showPage(req, res, user, 422, {
        removeErrors: { password: messages.fields.wrongPassword },
        removing: form.data.id,
      });
    }
    // Another user's id matches nothing: it reads as one that is gone already.
    const removed = await atomically(async () => {
      const result = await ceremonies.remove(user, form.data.id, originOf(req));
      if (result.ok) await factors.factorRemoved(user.id);
      return result;
    });
    flash(res, 'info', removed.ok ? messages.passkeys.removed(removed.name) : messages.passkeys.alreadyGone);
    res.redirect(303, '/account/passkeys');
  });

  return routes;
}
