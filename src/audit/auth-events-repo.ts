import type { Db } from '../db/database.js';

export type AuthEventKind = 'signup' | 'login' | 'login_failed' | 'throttled' | 'logout';

export interface AuthEvent {
  readonly event: AuthEventKind;
  readonly userId: number | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
}

const MAX_USER_AGENT = 512;

/** Every SQL statement on auth_events: the audit trail is only ever appended to. */
export function authEventsRepo(db: Db) {
  return {
    async record({ event, userId, ip, userAgent }: AuthEvent): Promise<void> {
      await db.query('INSERT INTO auth_events (user_id, event, ip, user_agent) VALUES ($1, $2, $3, $4)', [
        userId,
        event,
        ip,
        userAgent === null ? null : userAgent.slice(0, MAX_USER_AGENT),
      ]);
    },
  };
}

export type AuthEventsRepo = ReturnType<typeof authEventsRepo>;
