import type { Db } from '../db/database.js';
import { actingAdmin } from './acting-admin.js';

/** Every kind of audit event; each is a row of auth_event_kinds (migration 012), which a test checks. */
export const AUTH_EVENT_KINDS = [
  'signup',
  'login',
  'login_failed',
  'throttled',
  'logout',
  'profile_changed',
  'email_changed',
  'email_change_requested',
  'email_verified',
  'email_change_cancelled',
  'email_change_reverted',
  'password_changed',
  'password_reset_requested',
  'password_reset',
  'session_ended',
  'sessions_ended',
  'account_deleted',
  'deactivated',
  'activated',
  'second_factor_required',
  'second_factor_failed',
  'totp_enabled',
  'totp_disabled',
  'recovery_codes_generated',
  'recovery_code_used',
  'mfa_reset',
  'passkey_added',
  'passkey_removed',
  'passkey_failed',
  'login_confirmed',
  'data_exported',
  'login_code_sent',
  'admin_granted',
  'admin_revoked',
  'identity_linked',
  'identity_unlinked',
  'identity_refused',
] as const;

export type AuthEventKind = (typeof AUTH_EVENT_KINDS)[number];

export interface AuthEvent {
  readonly event: AuthEventKind;
  readonly userId: number | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
  /** A short note: what changed, how many sessions ended, who acted (never a secret). */
  readonly detail?: string | null;
}

export interface RecordedEvent extends AuthEvent {
  /** The admin who did it from the console (see audit/acting-admin.ts); null when it was not one. */
  readonly actorId: number | null;
  readonly at: Date;
  /** When the last of its attempts was (the same as `at` for a single one). */
  readonly lastAt: Date;
  /** How many attempts the row stands for (repeated refusals by a throttle are one row). */
  readonly attempts: number;
}

const MAX_USER_AGENT = 512;

interface EventRow {
  event: AuthEventKind;
  user_id: number | null;
  ip: string | null;
  user_agent: string | null;
  detail: string | null;
  created_at: Date;
  last_at: Date | null;
  attempts: number;
  actor_id: number | null;
}

const toEvent = (row: EventRow): RecordedEvent => ({
  event: row.event,
  userId: row.user_id,
  ip: row.ip,
  userAgent: row.user_agent,
  detail: row.detail,
  at: row.created_at,
  lastAt: row.last_at ?? row.created_at,
  attempts: row.attempts,
  actorId: row.actor_id === null ? null : Number(row.actor_id),
});

const EVENT_COLUMNS = 'event, user_id, ip, user_agent, detail, created_at, last_at, attempts, actor_id';

/** Every SQL statement on auth_events: the audit trail is only ever appended to. */
export function authEventsRepo(db: Db) {
  /** The user's events, newest first; `limit` null for all. */
  const pageOf = async (userId: number, limit: number | null, offset: number): Promise<RecordedEvent[]> => {
    const { rows } = await db.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM auth_events
        WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3`,
      [userId, limit, offset],
    );
    return rows.map(toEvent);
  };

  return {
    async record({ event, userId, ip, userAgent, detail = null }: AuthEvent): Promise<void> {
      await db.query(
        'INSERT INTO auth_events (user_id, event, ip, user_agent, detail, actor_id) VALUES ($1, $2, $3, $4, $5, $6)',
        [userId, event, ip, userAgent === null ? null : userAgent.slice(0, MAX_USER_AGENT), detail, actingAdmin()],
      );
    },

    /**
     * A refusal by a throttle: repeated ones with the same `dedupeKey` (the count that refused
     * them and its window) add to one row's attempts instead of a row each.
     */
    async recordRepeated({ event, userId, ip, userAgent, detail = null }: AuthEvent, dedupeKey: Buffer): Promise<void> {
      await db.query(
        `INSERT INTO auth_events (user_id, event, ip, user_agent, detail, dedupe_key, last_at)
         VALUES ($1, $2, $3, $4, $5, $6, now())
         ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL
         DO UPDATE SET attempts = auth_events.attempts + 1, last_at = now()`,
        [userId, event, ip, userAgent === null ? null : userAgent.slice(0, MAX_USER_AGENT), detail, dedupeKey],
      );
    },

    /** Deletes events older than `days`; how many. */
    async deleteOlderThan(days: number): Promise<number> {
      const { rowCount } = await db.query(
        `DELETE FROM auth_events
          WHERE created_at < now() - make_interval(days => $1)
            AND (last_at IS NULL OR last_at < now() - make_interval(days => $1))`,
        [days],
      );
      return rowCount ?? 0;
    },

    /** The user's latest events, newest first. */
    recentFor: (userId: number, limit: number): Promise<RecordedEvent[]> => pageOf(userId, limit, 0),

    /** A page of the user's events, newest first, and how many they have in all. */
    async pageFor(userId: number, limit: number, offset: number): Promise<{ events: RecordedEvent[]; total: number }> {
      const [events, { rows }] = await Promise.all([
        pageOf(userId, limit, offset),
        db.query<{ n: number }>('SELECT count(*)::int AS n FROM auth_events WHERE user_id = $1', [userId]),
      ]);
      return { events, total: rows[0]?.n ?? 0 };
    },

    /** Every event of the user still kept, newest first (the export). */
    allFor: (userId: number): Promise<RecordedEvent[]> => pageOf(userId, null, 0),

    /**
     * The audit trail for the admin console, newest first: the rows matching every filter given
     * (the account's email in any case, the address exactly, from and before two instants), with
     * the account's and the acting admin's emails, and whether there are more after this page.
     */
    async trail(filter: TrailFilter, limit: number, offset: number): Promise<{ events: TrailEvent[]; more: boolean }> {
      const { rows } = await db.query<EventRow & { email: string | null; actor_email: string | null }>(
        `SELECT e.event, e.user_id, e.ip, e.user_agent, e.detail, e.created_at, e.last_at, e.attempts, e.actor_id,
                u.email, a.email AS actor_email
           FROM auth_events e
           LEFT JOIN users u ON u.id = e.user_id
           LEFT JOIN users a ON a.id = e.actor_id
          WHERE ($1::text IS NULL OR e.event = $1)
            AND ($2::text IS NULL OR lower(u.email) = lower($2))
            AND ($3::text IS NULL OR e.ip = $3)
            AND ($4::timestamptz IS NULL OR e.created_at >= $4)
            AND ($5::timestamptz IS NULL OR e.created_at < $5)
          ORDER BY e.created_at DESC, e.id DESC
          LIMIT $6 OFFSET $7`,
        [filter.kind, filter.email, filter.ip, filter.from, filter.before, limit + 1, offset],
      );
      return {
        events: rows.slice(0, limit).map((row) => ({ ...toEvent(row), email: row.email, actorEmail: row.actor_email })),
        more: rows.length > limit,
      };
    },
  };
}

export type AuthEventsRepo = ReturnType<typeof authEventsRepo>;

/** What the console's audit trail can be narrowed to; null for any. */
export interface TrailFilter {
  readonly kind: AuthEventKind | null;
  readonly email: string | null;
  readonly ip: string | null;
  readonly from: Date | null;
  /** Events before this instant (the end of the day the admin gave). */
  readonly before: Date | null;
}

/** An event in the console's trail: with the account's email and the acting admin's, where there are. */
export interface TrailEvent extends RecordedEvent {
  readonly email: string | null;
  readonly actorEmail: string | null;
}

/** Where an event came from: the request's address and browser (the admin command names itself). */
export type EventOrigin = Pick<AuthEvent, 'ip' | 'userAgent'>;

/** What use cases record with: `record(event, userId, origin, detail?)`. */
export const recorder =
  (events: Pick<AuthEventsRepo, 'record'>) =>
  (event: AuthEventKind, userId: number | null, origin: EventOrigin, detail: string | null = null): Promise<void> =>
    events.record({ event, userId, ...origin, detail });
