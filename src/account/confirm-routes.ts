import { z } from 'zod';
import { parseForm } from '../forms/parse-form.js';
import { originOf } from '../http/request-origin.js';
import { Routes, type SignedInRequest } from '../http/routes.js';
import { safeNext } from '../http/safe-next.js';
import type { CodeChecks } from '../login/code-checks.js';
import type { LoginSteps } from '../login/login-steps.js';
import type { LoginStages } from '../login/stages.js';
import { CONFIRM_PATH } from '../http/recent-login.js';
import type { PasswordChecks } from '../login/password-checks.js';
import { messages } from '../messages.js';
import type { Origin } from '../users/origin.js';
import type { User } from '../users/users-repo.js';
import { confirmCodeForm, confirmPasswordForm } from './account-forms.js';

export interface ConfirmRouteDeps {
  readonly passwordChecks: PasswordChecks;
  readonly codes: Pick<CodeChecks, 'count' | 'right'>;
  readonly steps: Pick<LoginSteps, 'confirmed'>;
  /** This feature defines the "confirm it's you" step's page there (a passkey's answer comes back to it). */
  readonly stages: LoginStages;
  /** The user's second factors (mfa/ has them; wired in app.ts). */
  readonly secondFactor: {
    status(userId: number): Promise<{ totpSince: Date | null; passkeys: number }>;
    checkCode(userId: number, code: string): Promise<boolean>;
    failed(user: User, origin: Origin, what: string, warnOwner: boolean): Promise<void>;
  };
  /** The identity providers the user can sign in again at (prompt=login): each a button on the page. */
  readonly reauthenticateAt?: (
    userId: number,
  ) => Promise<ReadonlyArray<{ readonly path: string; readonly label: string }>>;
}

const confirmQuery = z.object({ next: z.string().optional() }).catch({});

/**
 * "Confirm it's you": where requireRecentLogin sends a user whose login is too old for a
 * sensitive page. The password, or the authenticator app, or a passkey (that form posts to
 * /login/passkey) proves it; each attempt counts against the same limits as at login, and the
 * user goes back to the page they asked for.
 */
export function confirmRoutes({
  passwordChecks,
  codes,
  steps,
  stages,
  secondFactor,
  reauthenticateAt = async () => [],
}: ConfirmRouteDeps): Routes {
  const routes = new Routes();

  const page = async (req: SignedInRequest, next: string, errors: Record<string, string> = {}) => ({
    next,
    errors,
    status: await secondFactor.status(req.user.id),
    providers: await reauthenticateAt(req.user.id),
  });

  stages.defineConfirm({
    path: CONFIRM_PATH,
    show: async (req, res, status, { next, errors }) => {
      res.status(status).render('account/confirm.njk', await page(req as SignedInRequest, next, errors));
    },
  });

  routes.get('/account/confirm', async (req, res) => {
    res.render('account/confirm.njk', await page(req, safeNext(confirmQuery.parse(req.query).next)));
  });

  routes.post('/account/confirm', async (req, res) => {
    const form = parseForm(confirmPasswordForm, req.body);
    const next = safeNext(form.ok ? form.data.next : form.values['next']);
    if (!form.ok) return res.status(422).render('account/confirm.njk', await page(req, next, form.errors));
    const { user } = req;
    const { password } = form.data;
    if (
      !(await passwordChecks.confirm(
        req,
        res,
        user,
        password,
        'confirming it is you',
        messages.limits.passwordAttempts,
      ))
    ) {
      return res
        .status(422)
        .render('account/confirm.njk', await page(req, next, { password: messages.fields.wrongPassword }));
    }
    await steps.confirmed(req, 'password');
    res.redirect(303, next);
  });

  routes.post('/account/confirm/code', async (req, res) => {
    const form = parseForm(confirmCodeForm, req.body);
    const next = safeNext(form.ok ? form.data.next : form.values['next']);
    const { user } = req;
    // Counted before it is checked, like the second step of a login.
    const attempt = await codes.count(req, user);
    if (form.ok && (await secondFactor.checkCode(user.id, form.data.code))) {
      await codes.right(attempt);
      await steps.confirmed(req, 'authenticator app');
      return res.redirect(303, next);
    }
    // Recorded; no warning mail: whoever typed it is already logged in to the account.
    await secondFactor.failed(user, originOf(req), 'a wrong authenticator code (confirming it is you)', false);
    res.status(422).render('account/confirm.njk', await page(req, next, { code: messages.twoFactor.codeDidntWork }));
  });

  return routes;
}
