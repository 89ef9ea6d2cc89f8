import type { RequestHandler } from 'express';
import session, { type SessionData } from 'express-session';
import connectPgSimple from 'connect-pg-simple';
import type pg from 'pg';

export interface SessionOptions {
  readonly pool: pg.Pool;
  /** The first signs new cookies; all of them verify, so a secret can be rotated. */
  readonly secrets: readonly string[];
  readonly secure: boolean;
  /** How long a session row lives without a request when the cookie ends with the browser. */
  readonly idleSeconds: number;
  /** Seconds between sweeps of expired rows; false for none (tests). */
  readonly pruneSeconds: number | false;
}

export interface Sessions {
  readonly middleware: RequestHandler;
  /** Stops the prune timer; the pool is closed by its owner. */
  close(): Promise<void>;
}

export const REMEMBER_ME_MS = 30 * 24 * 60 * 60 * 1000;
/** A session row's expiry moves at most this often: a page view costs no write in between. */
const TOUCH_EVERY_MS = 60_000;

/** Where the row's expiry (ms since the epoch), as read, rides along with the loaded session. */
const ROW_EXPIRES = 'rowExpiresAt';
type LoadedSession = SessionData & { [ROW_EXPIRES]?: number };

/**
 * connect-pg-simple, but a page view writes nothing unless the expiry has to
 * move by a minute or more: get() also reads the row's expiry, touch() skips
 * the UPDATE when the new expiry is within a minute of it. The idle timeout
 * stays exact to the minute.
 */
function thriftyStore(options: SessionOptions) {
  const PgStore = connectPgSimple(session);
  return new (class extends PgStore {
    override get(sid: string, callback: (error: unknown, session?: SessionData | null) => void): void {
      // Both sides in the database's own clock and zone, as connect-pg-simple writes them.
      options.pool
        .query<{ sess: SessionData | string; ms_left: number }>(
          `SELECT sess, (extract(epoch FROM expire - localtimestamp) * 1000)::float8 AS ms_left
             FROM sessions WHERE sid = $1 AND expire >= localtimestamp`,
          [sid],
        )
        .then(({ rows: [row] }) => {
          if (!row) return callback(null, null);
          const sess: LoadedSession = typeof row.sess === 'string' ? JSON.parse(row.sess) : row.sess;
          sess[ROW_EXPIRES] = Date.now() + row.ms_left;
          callback(null, sess);
        }, callback);
    }

    override set(sid: string, sess: SessionData, callback?: (error?: unknown) => void): void {
      const { [ROW_EXPIRES]: _loaded, ...rest } = sess as LoadedSession;
      super.set(sid, rest as SessionData, callback);
    }

    override touch(sid: string, sess: SessionData, callback?: () => void): void {
      const loaded = (sess as LoadedSession)[ROW_EXPIRES];
      const expires = sess.cookie.expires
        ? new Date(sess.cookie.expires).getTime()
        : Date.now() + options.idleSeconds * 1000;
      if (loaded !== undefined && Math.abs(expires - loaded) < TOUCH_EVERY_MS) {
        callback?.();
        return;
      }
      super.touch(sid, sess, callback);
    }
  })({
    pool: options.pool,
    tableName: 'sessions',
    createTableIfMissing: false, // the table is migration 002
    ttl: options.idleSeconds,
    pruneSessionInterval: options.pruneSeconds,
    errorLog: () => {}, // failures reach express-session's callback and the error handler
  });
}

export function createSessions(options: SessionOptions): Sessions {
  const store = thriftyStore(options);
  // __Host- makes the browser refuse the cookie unless it is Secure, Path=/ and host-only.
  const cookieName = options.secure ? '__Host-gatehouse.sid' : 'gatehouse.sid';
  const middleware = session({
    store,
    name: cookieName,
    secret: [...options.secrets],
    resave: false,
    saveUninitialized: false,
    unset: 'destroy',
    cookie: { httpOnly: true, sameSite: 'lax', secure: options.secure, path: '/' },
  });
  return { middleware, close: async () => store.close() };
}
