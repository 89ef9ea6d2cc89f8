import type { AdminRolesRepo } from '../admin-console/admin-roles-repo.js';
import type { FlowDeps } from '../flows/flow-deps.js';
import { recorder } from '../audit/auth-events-repo.js';
import type { LockOut } from '../flows/lock-out.js';
import { type Result, done, refused } from '../flows/result.js';
import type { OpenSessionsPage, SessionsRepo } from '../sessions/sessions-repo.js';
import { ADMIN_ORIGIN } from '../users/origin.js';
import { type User, withoutHash } from '../users/users-repo.js';

export interface AdminAccountsDeps extends FlowDeps {
  readonly sessions: SessionsRepo;
  readonly lockOut: Pick<LockOut, 'secureAccount'>;
  readonly roles: AdminRolesRepo;
}

/** What the admin command does to an account it names by email: each change one transaction, audited as the admin command's. */
export type AdminResult<T extends object = object> = Result<{ changed: boolean } & T, 'no-such-user'>;

/** The admin command's flows: finding and listing accounts, and deactivating, activating or deleting one. */
export function adminAccounts({ users, events, sessions, lockOut, roles, atomically }: AdminAccountsDeps) {
  const record = recorder(events);
  return {
    async findUser(email: string): Promise<User | null> {
      const found = await users.findByEmail(email);
      return found ? withoutHash(found) : null;
    },

    listUsers: (limit: number, offset: number) => users.page(limit, offset),

    recentEvents: (userId: number, limit: number) => events.recentFor(userId, limit),

    openSessions: (userId: number, limit: number): Promise<OpenSessionsPage> =>
      sessions.openFor(userId, null, limit, 0),

    /** Deactivating ends the user's sessions at once (they would fail on their next request anyway). */
    async deactivate(email: string): Promise<AdminResult<{ sessionsEnded: number }>> {
      const found = await users.findByEmail(email);
      if (!found) return refused('no-such-user');
      return atomically(async () => {
        const changed = await users.setActive(found.id, false);
        const sessionsEnded = await lockOut.secureAccount(found.id, ADMIN_ORIGIN, 'at deactivation', {
          ended: async (count) => {
            if (changed) await record('deactivated', found.id, ADMIN_ORIGIN, `${count} session(s) ended`);
          },
        });
        return done({ changed, sessionsEnded });
      });
    },

    async activate(email: string): Promise<AdminResult> {
      const found = await users.findByEmail(email);
      if (!found) return refused('no-such-user');
      return atomically(async () => {
        const changed = await users.setActive(found.id, true);
        if (changed) await record('activated', found.id, ADMIN_ORIGIN);
        return done({ changed });
      });
    },

    async deleteUser(email: string): Promise<AdminResult<{ sessionsEnded: number }>> {
      const found = await users.findByEmail(email);
      if (!found) return refused('no-such-user');
      return atomically(async () => {
        const sessionsEnded = await sessions.endAll(found.id);
        const changed = await users.delete(found.id);
        if (changed)
          await record('account_deleted', found.id, ADMIN_ORIGIN, `by the admin command; was ${found.email}`);
        return done({ changed, sessionsEnded });
      });
    },

    pruneSessions: (): Promise<number> => sessions.prune(),

    /** When the user was made an admin of the console, or null. */
    adminSince: (userId: number): Promise<Date | null> => roles.grantedAt(userId),

    /**
     * Makes the user an admin of the console, or stops them being one: the only way either
     * happens (no page can). Audited under the user's own history.
     */
    async setAdmin(email: string, admin: boolean): Promise<AdminResult> {
      const found = await users.findByEmail(email);
      if (!found) return refused('no-such-user');
      return atomically(async () => {
        const changed = admin ? await roles.grant(found.id) : await roles.revoke(found.id);
        if (changed) await record(admin ? 'admin_granted' : 'admin_revoked', found.id, ADMIN_ORIGIN);
        return done({ changed });
      });
    },
  };
}

export type AdminAccounts = ReturnType<typeof adminAccounts>;
