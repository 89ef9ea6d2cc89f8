import { Routes } from '../http/routes.js';
import { type Request, type Response } from 'express';
import { buttonForm } from '../forms/fields.js';
import { parseFixedForm } from '../forms/parse-form.js';
import { loginInProgress } from '../login/login-in-progress.js';
import type { LoginSteps } from '../login/login-steps.js';
import type { LoginStages } from '../login/stages.js';
import { originOf } from '../http/request-origin.js';
import { safeNext } from '../http/safe-next.js';
import { HttpError } from '../http/errors.js';
import { messages } from '../messages.js';
import type { SignedInRequest } from '../http/routes.js';
import type { ChallengeCookie } from './challenge-cookie.js';
import { authenticationFrom, passkeyLoginForm } from './passkey-forms.js';
import type { PasskeyCeremonies } from './passkeys.js';

export interface PasskeyLoginRouteDeps {
  readonly ceremonies: PasskeyCeremonies;
  readonly challenges: ChallengeCookie;
  readonly steps: LoginSteps;
  /** The pages of the login's steps: where a passkey that did not work sends the browser back to. */
  readonly stages: LoginStages;
}

/**
 * Signing in with a passkey: the ceremony's options (a challenge kept in the visitor's signed
 * cookie: no session row before the login), then its answer. On its own a verified passkey is a
 * whole login (it verified the user: no second step); after a password, on /login/two-factor, it
 * is the second step and must be that user's. A failed answer counts like a wrong password.
 */
export function passkeyLoginRoutes({ ceremonies, challenges, steps, stages }: PasskeyLoginRouteDeps): Routes {
  const routes = new Routes();

  /** The page the answer came from, again, saying the passkey did not work. */
  async function didntWork(req: Request, res: Response, asSecondStep: boolean, next: string) {
    if (asSecondStep) return stages.page('passkey').show(req, res, 422, { passkey: messages.passkeys.didntWork });
    stages.start.show(res, 422, { values: { next }, errors: { form: messages.passkeys.didntWork } });
  }

  /**
   * Checks an answer from the browser for `forUser` (or for whoever's passkey it is), counted
   * before it is checked like a password (a forged or replayed answer is a guess); a refusal is
   * recorded with its reason. The user on success, else null.
   */
  async function verifiedAnswer(req: Request, res: Response, credential: string, forUser: number | null) {
    const response = authenticationFrom(credential);
    if (!response) throw new HttpError(400, messages.errors.malformedForm);
    const result = await ceremonies.authenticate(
      response,
      (challenge) => challenges.take(req, res, challenge),
      forUser,
      { origin: originOf(req), device: null },
    );
    return result.ok ? result.user : null;
  }

  /** A logged-in user's passkey, proving it is them again: back to the page that asked. */
  async function confirmWithPasskey(req: SignedInRequest, res: Response, next: string, credential: string) {
    if (!(await verifiedAnswer(req, res, credential, req.user.id))) {
      return stages.confirm.show(req, res, 422, { next, errors: { passkey: messages.passkeys.didntWork } });
    }
    await steps.confirmed(req, 'passkey');
    res.redirect(303, next);
  }

  routes.public.post('/login/passkey/options', async (req, res) => {
    parseFixedForm(buttonForm, req.body);
    if (!ceremonies.rp.available) throw new HttpError(409, messages.passkeys.needName);
    // A logged-in user is confirming it is them (before a sensitive page): their own passkeys only.
    const options = await ceremonies.authenticationOptions(req.user?.id ?? loginInProgress(req)?.userId ?? null);
    challenges.add(req, res, options.challenge);
    res.json(options);
  });

  routes.public.post('/login/passkey', async (req, res) => {
    const form = parseFixedForm(passkeyLoginForm, req.body);
    const next = safeNext(form.next);
    if (req.user) return confirmWithPasskey(req as SignedInRequest, res, next, form.credential);
    const login = loginInProgress(req);
    const user = await verifiedAnswer(req, res, form.credential, login?.userId ?? null);
    if (!user) return didntWork(req, res, login !== null, next);
    if (login) return steps.nextStepDone(req, res, user, login, 'passkey');
    await steps.firstStepDone(req, res, user, { remember: form.remember, next }, 'passkey');
  });

  return routes;
}
