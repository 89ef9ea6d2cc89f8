import type { FlowDeps } from './flow-deps.js';
import { recorder } from '../audit/auth-events-repo.js';
import type { OpenSessionsPage, SessionsRepo } from '../sessions/sessions-repo.js';
import type { Origin } from '../users/origin.js';
import type { LockOut } from './lock-out.js';
import { type Result, done, refused } from './result.js';

export interface SessionsFlowDeps extends FlowDeps {
  readonly sessions: SessionsRepo;
  readonly lockOut: Pick<LockOut, 'secureAccount'>;
}

/** "My sessions": the user's open sessions, ending one, and signing out everywhere else. */
export function sessionsFlow({ events, sessions, lockOut, atomically }: SessionsFlowDeps) {
  const record = recorder(events);
  return {
    openSessions: (userId: number, currentSid: string | null, limit: number, offset = 0): Promise<OpenSessionsPage> =>
      sessions.openFor(userId, currentSid, limit, offset),

    /** The user's other open sessions (for "sign out everywhere else" after a change). */
    otherSessions: async (userId: number, currentSid: string): Promise<number> =>
      Math.max(0, (await sessions.openFor(userId, currentSid, 1, 0)).total - 1),

    /**
     * Ends one of the user's own sessions, and says whether it was `currentSid`'s; another user's
     * session id matches nothing (`not-found`, as one that has already ended).
     */
    endSession: (
      userId: number,
      sessionId: string,
      currentSid: string,
      origin: Origin,
    ): Promise<Result<{ current: boolean }, 'not-found'>> =>
      atomically(async () => {
        const sid = await sessions.endOne(userId, sessionId);
        if (sid === null) return refused('not-found');
        await record('session_ended', userId, origin, `session ${sessionId}`);
        return done({ current: sid === sessions.sidHash(currentSid) });
      }),

    /** Every session but `keepSid` ends, and a pending email change is cancelled. How many ended. */
    endOtherSessions: (userId: number, keepSid: string, origin: Origin): Promise<number> =>
      atomically(() =>
        lockOut.secureAccount(userId, origin, 'after signing out everywhere else', {
          keepSid,
          ended: (count) =>
            record('sessions_ended', userId, origin, `${count} other session(s), signed out everywhere else`),
        }),
      ),
  };
}

export type SessionsFlow = ReturnType<typeof sessionsFlow>;
