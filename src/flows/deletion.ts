import type { FlowDeps } from './flow-deps.js';
import { recorder } from '../audit/auth-events-repo.js';
import type { SessionsRepo } from '../sessions/sessions-repo.js';
import type { User } from '../users/users-repo.js';
import type { Caller } from './caller.js';
import type { PasswordGuard } from './password-guard.js';
import { type Result, done, refused } from './result.js';

export interface DeletionFlowDeps extends FlowDeps {
  readonly sessions: SessionsRepo;
  readonly guard: Pick<PasswordGuard, 'recheck'>;
}

/** The user deletes their own account, with their password: the row and every session of theirs go; the audit trail keeps the id. */
export function deletionFlow({ users, events, sessions, guard, atomically }: DeletionFlowDeps) {
  const record = recorder(events);
  return {
    async deleteAccount(user: User, password: string, caller: Caller): Promise<Result<object, 'bad-password'>> {
      if (!(await guard.recheck(user, password, caller, 'account deletion'))) return refused('bad-password');
      return atomically(async () => {
        await sessions.endAll(user.id);
        await users.delete(user.id);
        await record('account_deleted', user.id, caller.origin, 'by the user');
        return done({});
      });
    },
  };
}

export type DeletionFlow = ReturnType<typeof deletionFlow>;
