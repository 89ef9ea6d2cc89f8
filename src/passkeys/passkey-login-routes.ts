import { type Request, type Response, Router } from 'express';
import { parseForm } from '../auth/auth-forms.js';
import { pendingLogin } from '../auth/current-user.js';
import type { LoginSteps } from '../auth/login-steps.js';
import { MALFORMED_FORM, ipOf, originOf, refuseIfThrottled } from '../auth/route-helpers.js';
import { safeNext } from '../auth/safe-next.js';
import type { Throttle } from '../auth/throttle.js';
import { HttpError } from '../http/errors.js';
import type { ChallengeCookie } from './challenge-cookie.js';
import { PASSKEY_DIDNT_WORK, authenticationFrom, ceremonyForm, passkeyLoginForm } from './passkey-forms.js';
import type { PasskeyCeremonies } from './passkeys.js';

export interface PasskeyLoginRouteDeps {
  readonly ceremonies: PasskeyCeremonies;
  readonly challenges: ChallengeCookie;
  readonly steps: LoginSteps;
  readonly throttle: Throttle;
  readonly recordThrottled: Parameters<typeof refuseIfThrottled>[0];
  /** The second step's state, for its page when the passkey did not work. */
  readonly secondStepStatus: (userId: number) => Promise<unknown>;
}

/**
 * Signing in with a passkey: the ceremony's options (a challenge kept in the visitor's signed
 * cookie: no session row before the login), then its answer. On its own a verified passkey is a
 * whole login (it verified the user: no second step); after a password, on /login/two-factor, it
 * is the second step and must be that user's. A failed answer counts like a wrong password.
 */
export function passkeyLoginRoutes({
  ceremonies,
  challenges,
  steps,
  throttle,
  recordThrottled,
  secondStepStatus,
}: PasskeyLoginRouteDeps): Router {
  const router = Router();

  /** The page the answer came from, again, saying the passkey did not work. */
  async function didntWork(req: Request, res: Response, forUser: number | null, next: string) {
    if (forUser !== null) {
      return res.status(422).render('login-two-factor.njk', {
        status: await secondStepStatus(forUser),
        errors: { passkey: PASSKEY_DIDNT_WORK },
      });
    }
    res.status(422).render('login.njk', { values: { next }, errors: { form: PASSKEY_DIDNT_WORK } });
  }

  router.post('/login/passkey/options', async (req, res) => {
    if (!parseForm(ceremonyForm, req.body).ok) throw new HttpError(400, MALFORMED_FORM);
    if (res.locals.currentUser) throw new HttpError(409, 'You are logged in already.');
    if (!ceremonies.rp.available)
      throw new HttpError(409, 'Passkeys need the site to be reached by name, not by address.');
    const options = await ceremonies.authenticationOptions(pendingLogin(req)?.userId ?? null);
    challenges.add(req, res, options.challenge);
    res.json(options);
  });

  router.post('/login/passkey', async (req, res) => {
    const form = parseForm(passkeyLoginForm, req.body);
    if (!form.ok) throw new HttpError(400, MALFORMED_FORM);
    if (res.locals.currentUser) return res.redirect(303, '/');
    const pending = pendingLogin(req);
    const forUser = pending?.userId ?? null;
    const next = safeNext(form.data.next);
    const response = authenticationFrom(form.data.credential);
    if (!response) throw new HttpError(400, MALFORMED_FORM);

    // Counted before it is checked, like a password: a forged or replayed answer is a guess.
    await refuseIfThrottled(recordThrottled, req, await throttle.passkeyAttempt(ipOf(req)), 'failed sign-ins');
    const result = await ceremonies.authenticate(
      response,
      (challenge) => challenges.take(req, res, challenge),
      forUser,
    );
    if (!result.ok) {
      await ceremonies.failed(result.userId, originOf(req), result.reason);
      return didntWork(req, res, forUser, next);
    }
    await throttle.passkeySucceeded(ipOf(req));
    if (pending) {
      await throttle.secondFactorSucceeded(result.user.id);
      return steps.complete(req, res, result.user, pending, `${pending.after} + passkey`);
    }
    await steps.complete(req, res, result.user, { remember: form.data.remember, next }, 'passkey');
  });

  return router;
}
