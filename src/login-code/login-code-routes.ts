import { Routes } from '../http/routes.js';
import { parseForm } from '../forms/parse-form.js';
import { requireAnonymous } from '../http/current-user.js';
import { flash } from '../http/flash.js';
import { originOf } from '../http/request-origin.js';
import { safeNext } from '../http/safe-next.js';
import type { LoginSteps } from '../login/login-steps.js';
import type { LoginStages } from '../login/stages.js';
import { messages } from '../messages.js';
import type { CodeRequestCookie } from './code-request-cookie.js';
import { askCodeForm, askCodeQuery, enterCodeForm } from './login-code-forms.js';
import { type LoginCodes, requestHashOf } from './login-codes.js';

export interface LoginCodeRouteDeps {
  readonly codes: LoginCodes;
  readonly requests: CodeRequestCookie;
  readonly steps: Pick<LoginSteps, 'firstStepDone'>;
  /** Where this way in offers itself on the login page. */
  readonly stages: Pick<LoginStages, 'offerWayIn'>;
}

const ASK_PATH = '/login/code';
const ENTER_PATH = '/login/code/enter';

/**
 * Signing in with a code by email: the address in (the same answer and the same work whether
 * or not it has an account, and limited like reset links), then the code, typed in the same
 * browser. A right code is a first factor: login-steps completes the login, or sends an account
 * with a second factor on to its second step.
 */
export function loginCodeRoutes({ codes, requests, steps, stages }: LoginCodeRouteDeps): Routes {
  const routes = new Routes();
  stages.offerWayIn({ label: messages.loginCode.wayIn, path: ASK_PATH });

  routes.public.get(ASK_PATH, requireAnonymous, (req, res) => {
    const { next } = askCodeQuery.parse(req.query);
    res.render('login-code/ask.njk', { values: { next: next === undefined ? '' : safeNext(next) }, errors: {} });
  });

  routes.public.post(ASK_PATH, requireAnonymous, async (req, res) => {
    const form = parseForm(askCodeForm, req.body);
    if (!form.ok) return res.status(422).render('login-code/ask.njk', form);
    const { email, next, remember } = form.data;
    const request = requests.create(email, safeNext(next ?? '/'), remember);
    // Limited like reset links (a 429 before anything is queued or kept).
    await codes.ask(email, requestHashOf(request.nonce), { origin: originOf(req), device: null });
    requests.keep(res, request);
    res.redirect(303, ENTER_PATH);
  });

  routes.public.get(ENTER_PATH, requireAnonymous, (req, res) => {
    const request = requests.read(req);
    if (!request) {
      flash(res, 'info', messages.loginCode.askFirst);
      return res.redirect(303, ASK_PATH);
    }
    res.render('login-code/enter.njk', { sent: messages.loginCode.sent(request.email), errors: {} });
  });

  routes.public.post(ENTER_PATH, requireAnonymous, async (req, res) => {
    const form = parseForm(enterCodeForm, req.body);
    const request = requests.read(req);
    if (!request) {
      flash(res, 'info', messages.loginCode.askFirst);
      return res.redirect(303, ASK_PATH);
    }
    const sent = messages.loginCode.sent(request.email);
    if (!form.ok) return res.status(422).render('login-code/enter.njk', { sent, errors: form.errors });
    const result = await codes.enter(requestHashOf(request.nonce), form.data.code, originOf(req));
    if (!result.ok) {
      if (result.reason === 'dead') requests.drop(res);
      const error = result.reason === 'dead' ? messages.loginCode.dead : messages.loginCode.didntWork;
      return res
        .status(422)
        .render('login-code/enter.njk', { sent, dead: result.reason === 'dead', errors: { code: error } });
    }
    requests.drop(res);
    await steps.firstStepDone(req, res, result.user, { remember: request.remember, next: request.next }, 'email code');
  });

  return routes;
}
