import type { Request, Response } from 'express';
import type { Accounts } from '../users/accounts.js';
import type { User } from '../users/users-repo.js';
import { type PendingLogin, logIn, startPendingLogin } from '../http/current-user.js';
import { loginConfirmed } from '../http/recent-login.js';
import { originOf } from '../http/request-origin.js';
import { REMEMBER_ME_MS } from '../http/session.js';
import type { SignedInRequest } from '../http/routes.js';
import { messages } from '../messages.js';
import type { CodeChecks } from './code-checks.js';
import type { DeviceCookies } from './device-cookie.js';
import type { CodeAttempt } from './throttle.js';

/** Notices a login sends: the new-sign-in mail (to a browser not seen before). */
export interface LoginNotices {
  signedIn(user: User, origin: ReturnType<typeof originOf>): Promise<void>;
}

export interface LoginStepsDeps {
  readonly accounts: Accounts;
  readonly notices: LoginNotices;
  /** A right second factor starts the account's count of wrong codes again. */
  readonly codes: Pick<CodeChecks, 'right'>;
  /** A whole login earns the browser the account's device cookie. */
  readonly devices: Pick<DeviceCookies, 'remember'>;
  /** True when the user has a second factor (an authenticator app, a passkey): a password is then not enough. */
  readonly needsSecondFactor: (userId: number) => Promise<boolean>;
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
 * The steps every way of logging in shares, kept in one place so that no way
 * can skip one: a password (or a reset link) is the first step, and for an
 * account with a second factor it only starts a pending login; a login is
 * complete when every step is done, and only then gets a session, an audit
 * row, the new-sign-in notice and its redirect.
 */
export function loginSteps({
  accounts,
  notices,
  codes,
  devices,
  needsSecondFactor,
  sessionMaxSeconds,
  requireVerifiedEmail,
}: LoginStepsDeps) {
  /**
   * With REQUIRE_VERIFIED_EMAIL, a user whose address is not confirmed gets the login page's
   * 403 (it explains, and offers the link again), whichever way they came in. True when refused.
   */
  function refusedUnverified(res: Response, user: User, intent: LoginIntent): boolean {
    if (!requireVerifiedEmail || user.emailVerifiedAt !== null) return false;
    res.status(403).render('login.njk', {
      values: { email: user.email, next: intent.next },
      errors: { form: messages.login.unverified },
      unverified: user.email,
    });
    return true;
  }

  /**
   * Logs the user in on a new session id and sends the browser on. Only here, with every step
   * done, does the browser get the account's device cookie: a right password alone earns none.
   */
  async function complete(req: Request, res: Response, user: User, intent: LoginIntent, how: string): Promise<void> {
    if (refusedUnverified(res, user, intent)) return;
    const origin = originOf(req);
    const current = await accounts.loggedIn(user, origin, how);
    // "Remember me" never outlasts the absolute lifetime.
    await logIn(req, current, intent.remember ? Math.min(REMEMBER_ME_MS, sessionMaxSeconds * 1000) : null);
    await devices.remember(req, res, current.email);
    await notices.signedIn(current, origin);
    res.redirect(303, intent.next);
  }

  return {
    complete,

    /**
     * The second step of `pending` was right (`factor`: 'authenticator app', 'recovery code',
     * 'passkey'; `attempt`, the guess a code spent): the user's wrong-code count starts again,
     * and the login is complete.
     */
    async secondStepDone(
      req: Request,
      res: Response,
      user: User,
      pending: PendingLogin,
      factor: string,
      attempt: CodeAttempt = { userId: user.id, device: null },
    ) {
      await codes.right(attempt);
      await complete(req, res, user, pending, `${pending.after} + ${factor}`);
    },

    /**
     * A logged-in user proved it is them again (`how`: 'password', 'passkey', …): sensitive pages
     * open to this session for a while, on a new session id, and the audit trail says so.
     */
    async confirmed(req: SignedInRequest, how: string): Promise<void> {
      await loginConfirmed(req);
      await accounts.loginConfirmed(req.user.id, originOf(req), how);
    },

    /**
     * The first step was right (`after`: 'password' or 'password reset'). With a second factor the
     * browser goes to /login/two-factor holding a pending login, and nobody is logged in yet;
     * without one, the login is complete.
     */
    async firstStepDone(req: Request, res: Response, user: User, intent: LoginIntent, after: string): Promise<void> {
      if (refusedUnverified(res, user, intent)) return;
      if (!(await needsSecondFactor(user.id))) return complete(req, res, user, intent, after);
      await accounts.secondFactorRequired(user.id, originOf(req), after);
      await startPendingLogin(req, { userId: user.id, remember: intent.remember, next: intent.next, after });
      res.redirect(303, '/login/two-factor');
    },
  };
}

export type LoginSteps = ReturnType<typeof loginSteps>;
