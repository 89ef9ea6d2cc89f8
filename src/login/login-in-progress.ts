import type { Request, RequestHandler } from 'express';
import { endSession, isRecent, startSession } from '../http/current-user.js';
import type { Proof } from './assurance.js';

/** A login waiting for its next step lasts this long. */
export const LOGIN_IN_PROGRESS_MS = 10 * 60 * 1000;

/**
 * A login in progress: its first step (a password, a reset link, a code by email) was right, and
 * the account needs more (the assurance policy says what). It lives in a session row of its own
 * that logs nobody in; this module is its one home: started, read, expired here, completed by
 * login-steps (which starts a real session in its place).
 */
export interface LoginInProgress {
  readonly userId: number;
  readonly remember: boolean;
  /** Where to go once logged in (already checked by safeNext). */
  readonly next: string;
  /** When the first step was done (ms since the epoch): the rest must follow soon after. */
  readonly startedAt: number;
  /** What has been proved so far, oldest first. */
  readonly proved: readonly Proof[];
}

declare module 'express-session' {
  interface SessionData {
    loginInProgress?: LoginInProgress;
  }
}

/**
 * Starts a login in progress on a new session id (the old one stops working), for
 * LOGIN_IN_PROGRESS_MS: this is where its session row is first written.
 */
export const startLoginInProgress = (req: Request, login: Omit<LoginInProgress, 'startedAt'>): Promise<void> =>
  startSession(req, { loginInProgress: { ...login, startedAt: Date.now() } }, LOGIN_IN_PROGRESS_MS);

/** The login in progress in this session, or null (none, one past its time, or one of an older shape). */
export function loginInProgress(req: Request): LoginInProgress | null {
  const login = (req.session as typeof req.session | undefined)?.loginInProgress;
  if (!login || !Array.isArray(login.proved) || !isRecent(login.startedAt, LOGIN_IN_PROGRESS_MS)) return null;
  return login;
}

/** Ends the login in progress (and its session row): it is over, or its user is gone. */
export const endLoginInProgress = (req: Request): Promise<void> => endSession(req);

/** A login in progress past its time (or of a shape this version does not know) ends, row and all. */
export const expireLoginInProgress: RequestHandler = async (req, _res, next) => {
  if (req.session?.loginInProgress && !loginInProgress(req)) await endSession(req);
  next();
};
