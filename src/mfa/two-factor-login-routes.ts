import { Routes } from '../http/routes.js';
import { type Request, type Response } from 'express';
import type { z } from 'zod';
import { parseForm } from '../forms/parse-form.js';
import type { CodeChecks } from '../login/code-checks.js';
import { type LoginInProgress, endLoginInProgress, loginInProgress } from '../login/login-in-progress.js';
import type { LoginSteps } from '../login/login-steps.js';
import type { LoginStages } from '../login/stages.js';
import { originOf } from '../http/request-origin.js';
import type { CodeAttempt } from '../login/throttle.js';
import { flash } from '../http/flash.js';
import { messages } from '../messages.js';
import type { User } from '../users/users-repo.js';
import { loginCodeForm, recoveryCodeForm } from './mfa-forms.js';
import type { SecondFactor } from './second-factor.js';

export interface TwoFactorLoginRouteDeps {
  readonly factors: SecondFactor;
  readonly steps: LoginSteps;
  readonly codes: CodeChecks;
  /** This feature defines the pages of its steps there. */
  readonly stages: LoginStages;
  /** The user behind a login in progress, while they are still there and active. */
  readonly activeUser: (userId: number) => Promise<User | null>;
}

const SECOND_STEP_PATH = '/login/two-factor';
const RECOVERY_CODE_PATH = '/login/recovery-code';

/**
 * The second step of a login: a code from the authenticator app, or a recovery code; its page
 * also offers the user's passkeys (the passkey step, whose answer passkeys/ checks). The first
 * step (a password, a reset link, a code by email) left a login in progress in the session;
 * nobody is logged in until this step is done. Wrong codes count per account (codeChecks: the owner's own
 * browsers have guesses of their own), survive a restarted login, and at the third in a day
 * the owner is told someone has their password.
 */
export function twoFactorLoginRoutes({ factors, steps, codes, stages, activeUser }: TwoFactorLoginRouteDeps): Routes {
  const routes = new Routes();

  const secondStepPage = async (userId: number, res: Response, status: number, errors: Record<string, string>) => {
    res.status(status).render('login-two-factor.njk', { status: await factors.status(userId), errors });
  };
  // The pages of this feature's steps. A passkey as the second step is offered on the same page.
  for (const step of ['authenticator-app', 'passkey'] as const) {
    stages.define(step, {
      path: SECOND_STEP_PATH,
      show: async (req, res, status, errors) => {
        const login = loginInProgress(req);
        if (!login) return void res.redirect(303, stages.start.path);
        await secondStepPage(login.userId, res, status, errors);
      },
    });
  }
  stages.define('recovery-code', {
    path: RECOVERY_CODE_PATH,
    show: async (_req, res, status, errors) => {
      res.status(status).render('login-recovery-code.njk', { errors });
    },
  });

  /** The login in progress and its user, or null after sending the browser back to the login page. */
  async function pendingOrBack(req: Request, res: Response): Promise<{ pending: LoginInProgress; user: User } | null> {
    const pending = loginInProgress(req);
    const user = pending ? await activeUser(pending.userId) : null;
    if (pending && user) return { pending, user };
    if (pending) await endLoginInProgress(req);
    flash(res, 'info', messages.twoFactor.logInAgain);
    res.redirect(303, stages.start.path);
    return null;
  }

  /**
   * A code posted to the second step: the form read, the pending login and its user (null after
   * sending the browser back to /login), and the attempt counted before the code is checked.
   */
  async function codeAttempt<S extends z.ZodObject>(req: Request, res: Response, schema: S) {
    const form = parseForm(schema, req.body);
    const found = await pendingOrBack(req, res);
    if (!found) return null;
    const attempt = await codes.count(req, found.user);
    return { form, attempt, ...found };
  }

  /** A wrong code: recorded; the owner is mailed at the third in a day. */
  async function wrong(req: Request, user: User, attempt: CodeAttempt, what: string) {
    await factors.failed(user, originOf(req), what, await codes.wrong(attempt));
  }

  routes.public.get(SECOND_STEP_PATH, async (req, res) => {
    const found = await pendingOrBack(req, res);
    if (!found) return;
    const status = await factors.status(found.user.id);
    if (!status.totpSince && status.passkeys === 0) return res.redirect(303, RECOVERY_CODE_PATH);
    res.render('login-two-factor.njk', { status, errors: {} });
  });

  routes.public.post(SECOND_STEP_PATH, async (req, res) => {
    const attempt = await codeAttempt(req, res, loginCodeForm);
    if (!attempt) return;
    const { form, pending, user } = attempt;
    if (form.ok && (await factors.checkCode(user.id, form.data.code))) {
      return steps.nextStepDone(req, res, user, pending, 'authenticator app', attempt.attempt);
    }
    await wrong(req, user, attempt.attempt, 'a wrong authenticator code');
    await secondStepPage(user.id, res, 422, { code: messages.twoFactor.codeDidntWork });
  });

  routes.public.get(RECOVERY_CODE_PATH, async (req, res) => {
    if (!(await pendingOrBack(req, res))) return;
    res.render('login-recovery-code.njk', { errors: {} });
  });

  routes.public.post(RECOVERY_CODE_PATH, async (req, res) => {
    const attempt = await codeAttempt(req, res, recoveryCodeForm);
    if (!attempt) return;
    const { form, pending, user } = attempt;
    const used = form.ok ? await factors.useRecoveryCode(user, form.data.recovery_code, originOf(req)) : null;
    if (!used?.ok) {
      await wrong(req, user, attempt.attempt, 'a wrong recovery code');
      return res
        .status(422)
        .render('login-recovery-code.njk', { errors: { recovery_code: messages.recoveryCodes.didntWork } });
    }
    if (used.few) flash(res, 'error', messages.recoveryCodes.fewLeft(used.left));
    else flash(res, 'info', messages.recoveryCodes.left(used.left));
    await steps.nextStepDone(req, res, user, pending, 'recovery code', attempt.attempt);
  });

  return routes;
}
