import { recorder } from '../audit/auth-events-repo.js';
import type { FlowDeps } from './flow-deps.js';
import type { Origin } from '../users/origin.js';

export interface ProfileInput {
  readonly name: string;
  readonly website: string | null;
}

/** The profile (name, website) and the user's own record of what was done: the account's own pages. */
export function profileFlow({ users, events, atomically }: FlowDeps) {
  const record = recorder(events);
  return {
    updateProfile: (userId: number, input: ProfileInput, origin: Origin): Promise<void> =>
      atomically(async () => {
        await users.updateProfile(userId, input.name, input.website);
        await record('profile_changed', userId, origin);
      }),

    /** A page of the user's history (their auth_events), newest first, and how many events they have. */
    activity: (userId: number, limit: number, offset: number) => events.pageFor(userId, limit, offset),

    /** The user downloaded everything kept about them. */
    dataExported: (userId: number, origin: Origin) => record('data_exported', userId, origin),
  };
}

export type ProfileFlow = ReturnType<typeof profileFlow>;
