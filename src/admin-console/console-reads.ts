import type { Identity } from '../identities/identities-repo.js';
import type { AuthEventsRepo, RecordedEvent, TrailEvent, TrailFilter } from '../audit/auth-events-repo.js';
import type { EnforceLimit } from '../flows/limits.js';
import type { Throttle } from '../login/throttle.js';
import { messages } from '../messages.js';
import type { SecondFactorStatus } from '../mfa/second-factor.js';
import type { Passkey } from '../passkeys/passkeys-repo.js';
import type { OpenSessionsPage, SessionsRepo } from '../sessions/sessions-repo.js';
import type { Origin } from '../users/origin.js';
import type { User } from '../users/users-repo.js';
import type { DirectoryEntry, DirectoryRepo } from './directory-repo.js';

/** Accounts on a page of the console's list, and events on a page of its trail. */
export const USERS_PER_PAGE = 50;
export const EVENTS_PER_PAGE = 50;
/** The detail page shows this many of the account's latest events, and of its open sessions. */
export const ACCOUNT_EVENTS = 50;
export const ACCOUNT_SESSIONS = 50;

/** Everything the console's account page shows. */
export interface AccountView {
  readonly entry: DirectoryEntry;
  readonly factors: SecondFactorStatus;
  readonly passkeys: readonly Passkey[];
  /** The account's sign-in provider identities (never a token: none is kept). */
  readonly identities: readonly Identity[];
  readonly sessions: OpenSessionsPage;
  readonly events: readonly RecordedEvent[];
}

export interface ConsoleReadsDeps {
  readonly directory: DirectoryRepo;
  readonly events: Pick<AuthEventsRepo, 'recentFor' | 'trail'>;
  readonly sessions: Pick<SessionsRepo, 'openFor'>;
  readonly factors: { status(userId: number): Promise<SecondFactorStatus> };
  readonly passkeys: { listFor(userId: number): Promise<Passkey[]> };
  readonly identities: { list(userId: number): Promise<Identity[]> };
  readonly throttle: Pick<Throttle, 'adminSearch'>;
  readonly enforce: EnforceLimit;
}

/**
 * What the console shows: the account search, one account, and the audit trail. Each page is
 * counted against the admin who asked for it (a stolen admin session cannot read every account
 * at the speed of a script).
 */
export function consoleReads({
  directory,
  events,
  sessions,
  factors,
  passkeys,
  identities,
  throttle,
  enforce,
}: ConsoleReadsDeps) {
  const limit = async (admin: User, origin: Origin) =>
    enforce(await throttle.adminSearch(admin.id), origin, messages.limits.adminSearches);

  return {
    /** A page (from 1) of the accounts whose email or name starts with `prefix`, newest first. */
    async search(admin: User, prefix: string, page: number, origin: Origin) {
      await limit(admin, origin);
      return directory.search(prefix, USERS_PER_PAGE, (page - 1) * USERS_PER_PAGE);
    },

    /** The account's page, or null when there is no such account. */
    async account(admin: User, id: number, origin: Origin): Promise<AccountView | null> {
      await limit(admin, origin);
      const entry = await directory.find(id);
      if (!entry) return null;
      const [status, keys, linked, open, latest] = await Promise.all([
        factors.status(id),
        passkeys.listFor(id),
        identities.list(id),
        sessions.openFor(id, null, ACCOUNT_SESSIONS, 0),
        events.recentFor(id, ACCOUNT_EVENTS),
      ]);
      return { entry, factors: status, passkeys: keys, identities: linked, sessions: open, events: latest };
    },

    /** A page (from 1) of the audit trail, newest first, narrowed by `filter`. */
    async trail(
      admin: User,
      filter: TrailFilter,
      page: number,
      origin: Origin,
    ): Promise<{ events: TrailEvent[]; more: boolean }> {
      await limit(admin, origin);
      return events.trail(filter, EVENTS_PER_PAGE, (page - 1) * EVENTS_PER_PAGE);
    },
  };
}

export type ConsoleReads = ReturnType<typeof consoleReads>;
