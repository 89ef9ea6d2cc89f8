import type { RequestHandler } from 'express';
import session from 'express-session';
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
  readonly cookieName: string;
  /** Stops the prune timer; the pool is closed by its owner. */
  close(): Promise<void>;
}

export const REMEMBER_ME_MS = 30 * 24 * 60 * 60 * 1000;

export function createSessions(options: SessionOptions): Sessions {
  const PgStore = connectPgSimple(session);
  const store = new PgStore({
    pool: options.pool,
    tableName: 'sessions',
    createTableIfMissing: false, // the table is migration 002
    ttl: options.idleSeconds,
    pruneSessionInterval: options.pruneSeconds,
    errorLog: () => {}, // failures reach express-session's callback and the error handler
  });
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
  return { middleware, cookieName, close: async () => store.close() };
}
