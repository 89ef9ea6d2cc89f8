import { createHash } from 'node:crypto';
import type { Db, PreparedStatement } from '../db/database.js';
import { type User, userColumnsOf, userFromJoin } from '../users/users-repo.js';

declare const sidHashBrand: unique symbol;

/**
 * What `sessions.sid` holds: the SHA-256 of the session id, lower-case hex. The id is the bearer
 * secret and stays in the cookie; whoever reads the table (a backup, a replica, an injection)
 * holds hashes, which no cookie can carry. The brand keeps a raw id from reaching a query that
 * expects the hash.
 */
export type SidHash = string & { readonly [sidHashBrand]: true };

/**
 * The hash of a session id, as stored. An id is 192 random bits: a plain SHA-256 is enough
 * (nothing to guess, so no salt or stretching), and cheap enough for every request.
 */
export const hashSid = (sid: string): SidHash => createHash('sha256').update(sid, 'utf8').digest('hex') as SidHash;

/** A session row as the store reads it: the JSON, how long it has left, and its user (active ones only). */
export interface StoredSession {
  readonly sess: unknown;
  readonly msLeft: number;
  readonly user: User | null;
}

/** What the store writes besides the JSON: whose session it is and where it was opened. */
export interface SessionWrite {
  readonly sess: object;
  /** Seconds since the epoch. */
  readonly expiresAt: number;
  readonly userId: number | null;
  /** A login waiting for its second factor, not yet a login. */
  readonly pending: boolean;
  readonly ip: string | null;
  readonly userAgent: string | null;
  /** When the user logged in (ms since the epoch): a renewed id keeps the session's start. */
  readonly startedAt: number | null;
}

/** One of a user's open sessions, as the account page and the admin command list them. */
export interface OpenSession {
  /** A public handle (a random UUID): the session id is the bearer secret and never leaves the cookie. */
  readonly id: string;
  readonly createdAt: Date;
  readonly lastSeenAt: Date;
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly current: boolean;
}

/** A page of a user's open sessions, and how many they have in all. */
export interface OpenSessionsPage {
  readonly sessions: OpenSession[];
  readonly total: number;
}

interface OpenSessionRow {
  id: string;
  created_at: Date;
  last_seen_at: Date;
  ip: string | null;
  user_agent: string | null;
  current: boolean;
}

const MAX_USER_AGENT = 512;

/** Which of a user's rows a cap counts: their logins, or their logins waiting for a second factor. */
export type SessionKind = 'logins' | 'pending';

// expire is a timestamp without zone, written and compared in the database's own
// clock and zone (to_timestamp, localtimestamp), as connect-pg-simple does.
//
// The store (src/http/session.ts) hashes each request's id once and passes the hash (SidHash) to
// load, insert, update, touch and destroy; everything else takes the raw id, as the request has
// it (req.sessionID), and hashes it here.

/**
 * The session and its user, by the session id's hash: the one statement of a logged-in page view,
 * prepared once per connection (on the embedded database, sent unnamed: db/database.ts).
 */
const LOAD: PreparedStatement = {
  name: 'sessions.load',
  text: `SELECT s.sess, (extract(epoch FROM s.expire - localtimestamp) * 1000)::float8 AS ms_left, ${userColumnsOf('u')}
           FROM sessions s LEFT JOIN users u ON u.id = s.user_id AND u.is_active
          WHERE s.sid = $1 AND s.expire >= localtimestamp`,
};

/** Every SQL statement on sessions. */
export function sessionsRepo(db: Db) {
  return {
    /** The stored form of a session id: compare endOne's answer with this. */
    sidHash: hashSid,

    /** The session and its user in one statement: a page view is one round trip. */
    async load(sid: SidHash): Promise<StoredSession | null> {
      const { rows } = await db.query<{ sess: unknown; ms_left: number } & Parameters<typeof userFromJoin>[0]>(LOAD, [
        sid,
      ]);
      const row = rows[0];
      if (!row) return null;
      const sess: unknown = typeof row.sess === 'string' ? JSON.parse(row.sess) : row.sess;
      return { sess, msLeft: row.ms_left, user: userFromJoin(row) };
    },

    /** A new session, or one replaced wholesale (a regenerated id writes a new row). */
    async insert(sid: SidHash, write: SessionWrite): Promise<void> {
      await db.query(
        `INSERT INTO sessions (sid, sess, expire, user_id, ip, user_agent, created_at, pending)
         VALUES ($1, $2, to_timestamp($3), $4, $5, $6, coalesce(to_timestamp($7::float8 / 1000), now()), $8)
         ON CONFLICT (sid) DO UPDATE SET sess = EXCLUDED.sess, expire = EXCLUDED.expire, user_id = EXCLUDED.user_id,
           ip = coalesce(EXCLUDED.ip, sessions.ip), user_agent = coalesce(EXCLUDED.user_agent, sessions.user_agent),
           last_seen_at = now(), pending = EXCLUDED.pending`,
        [
          sid,
          JSON.stringify(write.sess),
          write.expiresAt,
          write.userId,
          write.ip,
          write.userAgent?.slice(0, MAX_USER_AGENT) ?? null,
          write.startedAt,
          write.pending,
        ],
      );
    },

    /**
     * A session that was read from its row: updated, never re-created, so a
     * request still in flight cannot bring back a session that was ended meanwhile.
     */
    async update(sid: SidHash, write: SessionWrite): Promise<void> {
      await db.query(
        `UPDATE sessions SET sess = $2, expire = to_timestamp($3), user_id = $4, pending = $5, last_seen_at = now()
          WHERE sid = $1`,
        [sid, JSON.stringify(write.sess), write.expiresAt, write.userId, write.pending],
      );
    },

    /**
     * Moves the expiry to `expiresAt` (seconds since the epoch) unless the row's is already within
     * `slackSeconds` of it: of the page views in flight when the expiry fell a minute behind, each
     * of which read the old one, the first moves it and the others write nothing.
     */
    async touch(sid: SidHash, expiresAt: number, slackSeconds: number): Promise<void> {
      await db.query(
        `UPDATE sessions SET expire = to_timestamp($2), last_seen_at = now()
          WHERE sid = $1 AND abs(extract(epoch FROM expire - to_timestamp($2)::timestamp)) >= $3`,
        [sid, expiresAt, slackSeconds],
      );
    },

    /** Deletes the session (logout, a new id at login). */
    async destroy(sid: SidHash): Promise<void> {
      await db.query('DELETE FROM sessions WHERE sid = $1', [sid]);
    },

    /**
     * A page of the user's sessions that have not expired: `currentSid` (the request's own id, as
     * the cookie carries it) first, then the most recently used.
     */
    async openFor(userId: number, currentSid: string | null, limit: number, offset = 0): Promise<OpenSessionsPage> {
      const { rows } = await db.query<OpenSessionRow & { total: number }>(
        `SELECT id::text AS id, created_at, last_seen_at, ip, user_agent, sid = $2 AS current, count(*) OVER ()::int AS total
           FROM sessions WHERE user_id = $1 AND NOT pending AND expire >= localtimestamp
          ORDER BY (sid = $2) IS TRUE DESC, last_seen_at DESC, id
          LIMIT $3 OFFSET $4`,
        [userId, currentSid === null ? null : hashSid(currentSid), limit, offset],
      );
      const total =
        rows[0]?.total ??
        (
          await db.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM sessions WHERE user_id = $1 AND NOT pending AND expire >= localtimestamp',
            [userId],
          )
        ).rows[0]?.n ??
        0;
      const sessions = rows.map((row) => ({
        id: row.id,
        createdAt: row.created_at,
        lastSeenAt: row.last_seen_at,
        ip: row.ip,
        userAgent: row.user_agent,
        current: row.current === true,
      }));
      return { sessions, total };
    },

    /**
     * Keeps the user's `keep` newest rows of one kind and ends the rest, so a user cannot pile up
     * rows without bound; how many ended. The kinds are capped apart: logins waiting for a second
     * factor are what anyone with the password can make, as many as they like, so they only ever
     * push out each other (the oldest started first), never a login. Logins push out logins, the
     * least recently used first.
     */
    async trimFor(userId: number, kind: SessionKind, keep: number): Promise<number> {
      const { rowCount } = await db.query(
        kind === 'logins'
          ? `DELETE FROM sessions WHERE sid IN (
               SELECT sid FROM sessions WHERE user_id = $1 AND NOT pending
                ORDER BY last_seen_at DESC, created_at DESC OFFSET $2)`
          : `DELETE FROM sessions WHERE sid IN (
               SELECT sid FROM sessions WHERE user_id = $1 AND pending
                ORDER BY created_at DESC, last_seen_at DESC OFFSET $2)`,
        [userId, keep],
      );
      return rowCount ?? 0;
    },

    /**
     * Ends one session of this user (another user's id matches nothing); the stored sid it had,
     * a hash (compare it with sidHash(req.sessionID)), or null.
     */
    async endOne(userId: number, id: string): Promise<SidHash | null> {
      const { rows } = await db.query<{ sid: SidHash }>(
        'DELETE FROM sessions WHERE user_id = $1 AND id = $2::uuid RETURNING sid',
        [userId, id],
      );
      return rows[0]?.sid ?? null;
    },

    /**
     * Ends every session of the user but `keepSid` (the request's own id, as the cookie carries it;
     * none kept when null); how many were still open.
     */
    async endAll(userId: number, keepSid: string | null = null): Promise<number> {
      const { rows } = await db.query<{ open: boolean }>(
        `DELETE FROM sessions WHERE user_id = $1 AND ($2::text IS NULL OR sid <> $2::text)
         RETURNING expire >= localtimestamp AS open`,
        [userId, keepSid === null ? null : hashSid(keepSid)],
      );
      return rows.filter((row) => row.open).length;
    },

    /** Removes expired rows; how many. */
    async prune(): Promise<number> {
      const { rowCount } = await db.query('DELETE FROM sessions WHERE expire < localtimestamp');
      return rowCount ?? 0;
    },
  };
}

export type SessionsRepo = ReturnType<typeof sessionsRepo>;
