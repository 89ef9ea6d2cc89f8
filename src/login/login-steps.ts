import type { Request, Response } from 'express';
import type { LoginFlow } from '../flows/login.js';
import type { User } from '../users/users-repo.js';
import { logIn } from '../http/current-user.js';
import { loginConfirmed } from '../http/recent-login.js';
import { originOf } from '../http/request-origin.js';
import { REMEMBER_ME_MS } from '../http/session.js';
import type { SignedInRequest } from '../http/routes.js';
import { messages } from '../messages.js';
import { type AccountFactors, type Proof, assess } from './assurance.js';
import type { CodeChecks } from './code-checks.js';
import type { DeviceCookies } from './device-cookie.js';
import { type LoginInProgress, startLoginInProgress } from './login-in-progress.js';
import type { LoginStages } from './stages.js';
import type { CodeAttempt } from './throttle.js';

/** Notices a login sends: the new-sign-in mail (to a browser not seen before). */
export interface LoginNotices {
  signedIn(user: User, origin: ReturnType<typeof originOf>): Promise<void>;
}

export interface LoginStepsDeps {
  /** The audit trail's record of a login: whole, waiting for a second factor, or confirmed again. */
  readonly login: Pick<LoginFlow, 'loggedIn' | 'secondFactorRequired' | 'loginConfirmed'>;
  readonly notices: LoginNotices;
  /** A right second factor starts the account's count of wrong codes again. */
  readonly codes: Pick<CodeChecks, 'right'>;
  /** A whole login earns the browser the account's device cookie. */
  readonly devices: Pick<DeviceCookies, 'remember'>;
  /** The factors an account has besides its first, for the assurance policy. */
  readonly factorsOf: (userId: number) => Promise<AccountFactors>;
  /** Where each step lives (the features define their pages). */
  readonly stages: LoginStages;
  readonly sessionMaxSeconds: number;
  /** REQUIRE_VERIFIED_EMAIL: no way in logs in a user whose address is not confirmed. */
  readonly requireVerifiedEmail: boolean;
}

export interface LoginIntent {
  readonly remember: boolean;
  /** Where to go afterwards: a safeNext() path. */
  readonly next: string;
}

/**
 * The steps every way of logging in shares, kept in one place so that no way can skip one: each
 * way in reports what it proved, the assurance policy (assurance.ts) says whether that makes a
 * whole login or which steps may follow, and only a whole login gets a session, an audit row,
 * the device cookie, the new-sign-in notice and its redirect. A login that needs more waits in a
 * login in progress (login-in-progress.ts) on the page of its next step.
 */
export function loginSteps({
  login,
  notices,
  codes,
  devices,
  factorsOf,
  stages,
  sessionMaxSeconds,
  requireVerifiedEmail,
}: LoginStepsDeps) {
  /**
   * With REQUIRE_VERIFIED_EMAIL, a user whose address is not confirmed gets the login page's
   * 403 (it explains, and offers the link again), whichever way they came in. True when refused.
   */
  function refusedUnverified(res: Response, user: User, intent: LoginIntent): boolean {
    if (!requireVerifiedEmail || user.emailVerifiedAt !== null) return false;
    stages.start.show(res, 403, {
      values: { email: user.email, next: intent.next },
      errors: { form: messages.login.unverified },
      unverified: user.email,
    });
    return true;
  }

  /** Logs the user in on a new session id and sends the browser on. */
  async function complete(req: Request, res: Response, user: User, intent: LoginIntent, proved: readonly Proof[]) {
    const origin = originOf(req);
    const current = await login.loggedIn(user, origin, proved.join(' + '));
    // "Remember me" never outlasts the absolute lifetime.
    await logIn(req, current, intent.remember ? Math.min(REMEMBER_ME_MS, sessionMaxSeconds * 1000) : null);
    await devices.remember(req, res, current.email);
    await notices.signedIn(current, origin);
    res.redirect(303, intent.next);
  }

  /** What has been proved so far: a whole login is completed; otherwise the login waits for its next step. */
  async function advance(req: Request, res: Response, user: User, intent: LoginIntent, proved: readonly Proof[]) {
    if (refusedUnverified(res, user, intent)) return;
    const assessment = assess(proved, await factorsOf(user.id));
    if (assessment.whole) return complete(req, res, user, intent, proved);
    const [step] = assessment.followUps;
    if (step === undefined) throw new Error('the assurance policy left a login with no way to go on');
    if (proved.length === 1) await login.secondFactorRequired(user.id, originOf(req), proved[0] ?? '');
    await startLoginInProgress(req, { userId: user.id, remember: intent.remember, next: intent.next, proved });
    res.redirect(303, stages.page(step).path);
  }

  return {
    /**
     * A way in proved `proof` for `user` (a password, a reset link, a code by email, a passkey):
     * the login is complete when the policy says so, else it waits for its next step.
     */
    firstStepDone: (req: Request, res: Response, user: User, intent: LoginIntent, proof: Proof): Promise<void> =>
      advance(req, res, user, intent, [proof]),

    /**
     * A further step of `login` proved `proof` (`attempt`, the guess a code spent): the user's
     * wrong-code count starts again, and the login goes on, whole by now.
     */
    async nextStepDone(
      req: Request,
      res: Response,
      user: User,
      login: LoginInProgress,
      proof: Proof,
      attempt: CodeAttempt = { userId: user.id, device: null },
    ): Promise<void> {
      await codes.right(attempt);
      await advance(req, res, user, login, [...login.proved, proof]);
    },

    /**
     * A logged-in user proved it is them again (`how`: 'password', 'passkey', …): sensitive pages
     * open to this session for a while, on a new session id, and the audit trail says so.
     */
    async confirmed(req: SignedInRequest, how: string): Promise<void> {
      await loginConfirmed(req);
      await login.loginConfirmed(req.user.id, originOf(req), how);
    },
  };
}

export type LoginSteps = ReturnType<typeof loginSteps>;
