import type { AuthEventsRepo } from '../audit/auth-events-repo.js';
import { messages } from '../messages.js';
import type { SessionsRepo } from '../sessions/sessions-repo.js';
import type { User } from './users-repo.js';

/** What a user's second factors are, without a secret: the export's part about them. */
export interface FactorFacts {
  readonly authenticatorAppSince: Date | null;
  readonly recoveryCodesLeft: number;
  readonly passkeys: ReadonlyArray<{
    readonly name: string;
    readonly createdAt: Date;
    readonly lastUsedAt: Date | null;
    readonly backedUp: boolean;
    readonly deviceType: string;
    readonly transports: readonly string[];
  }>;
}

export interface PersonalDataDeps {
  readonly sessions: Pick<SessionsRepo, 'openFor'>;
  readonly events: Pick<AuthEventsRepo, 'allFor'>;
  /** The browsers the user has signed in from (kept only as hashes: their dates are what is theirs). */
  readonly knownBrowsers: (userId: number) => Promise<ReadonlyArray<{ firstSeenAt: Date; lastSeenAt: Date }>>;
  readonly factors: (userId: number) => Promise<FactorFacts>;
  /** The most sessions a user can have open (SESSIONS_PER_USER): all of them are listed. */
  readonly maxSessions: number;
  /** The user's sign-in provider identities (no token: none is kept). */
  readonly identities?: (userId: number) => Promise<
    ReadonlyArray<{
      provider: string;
      issuer: string;
      subject: string;
      emailSeen: string | null;
      linkedAt: Date;
      lastUsedAt: Date | null;
    }>
  >;
}

const iso = (date: Date | null): string | null => (date === null ? null : date.toISOString());

/**
 * Everything Gatehouse keeps about a user, as one JSON document: for the right of access and of
 * portability (GDPR articles 15 and 20). Never a password hash, a session id, a TOTP secret, a
 * recovery code or its hash, a passkey's key or a browser's fingerprint: what they protect, not
 * data about the person. The mail outbox and one-time links are not in it either: they hold
 * secrets and last minutes.
 */
export function personalDataExport({
  sessions,
  events,
  knownBrowsers,
  factors,
  maxSessions,
  identities = async () => [],
}: PersonalDataDeps) {
  return {
    async of(user: User, currentSid: string) {
      const [open, history, browsers, facts, linked] = await Promise.all([
        sessions.openFor(user.id, currentSid, maxSessions),
        events.allFor(user.id),
        knownBrowsers(user.id),
        factors(user.id),
        identities(user.id),
      ]);
      return {
        format: 'gatehouse-personal-data/1',
        exported_at: new Date().toISOString(),
        profile: {
          name: user.name,
          email: user.email,
          email_verified_at: iso(user.emailVerifiedAt),
          pending_email: user.pendingEmail,
          website: user.website,
          member_since: iso(user.createdAt),
          last_login_at: iso(user.lastLoginAt),
          active: user.isActive,
        },
        open_sessions: open.sessions.map((session) => ({
          this_browser: session.current,
          started_at: iso(session.createdAt),
          last_seen_at: iso(session.lastSeenAt),
          ip: session.ip,
          user_agent: session.userAgent,
        })),
        activity: history.map((event) => ({
          event: event.event,
          description: messages.activity[event.event],
          at: iso(event.at),
          ...(event.attempts > 1 ? { attempts: event.attempts, last_at: iso(event.lastAt) } : {}),
          // Done by an administrator from the console: said, but not which one, nor from where.
          ...(event.actorId === null
            ? { ip: event.ip, user_agent: event.userAgent }
            : { by: 'an administrator', ip: null, user_agent: null }),
          detail: event.detail ?? null,
        })),
        second_factor: {
          authenticator_app:
            facts.authenticatorAppSince === null ? null : { on_since: iso(facts.authenticatorAppSince) },
          recovery_codes_left: facts.recoveryCodesLeft,
          passkeys: facts.passkeys.map((key) => ({
            name: key.name,
            added_at: iso(key.createdAt),
            last_used_at: iso(key.lastUsedAt),
            synced: key.backedUp,
            device_type: key.deviceType,
            transports: key.transports,
          })),
        },
        sign_in_providers: linked.map((identity) => ({
          provider: identity.provider,
          issuer: identity.issuer,
          subject: identity.subject,
          email_seen: identity.emailSeen,
          linked_at: iso(identity.linkedAt),
          last_used_at: iso(identity.lastUsedAt),
        })),
        signed_in_from_browsers: browsers.map((browser) => ({
          first_seen_at: iso(browser.firstSeenAt),
          last_seen_at: iso(browser.lastSeenAt),
        })),
      };
    },
  };
}

export type PersonalData = ReturnType<typeof personalDataExport>;
