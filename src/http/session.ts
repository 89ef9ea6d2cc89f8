import type { Request, RequestHandler, Response } from 'express';
import session, { type SessionData } from 'express-session';
import connectPgSimple from 'connect-pg-simple';
import { sign, unsign } from 'cookie-signature';
import onHeaders from 'on-headers';
import type pg from 'pg';
import { type SidHash, hashSid, sessionsRepo } from '../sessions/sessions-repo.js';
import type { Origin } from '../users/origin.js';
import { randomId } from './random-ids.js';
import type { User } from '../users/users-repo.js';

export interface SessionOptions {
  readonly pool: pg.Pool;
  /** The first signs new cookies; all of them verify, so a secret can be rotated. */
  readonly secrets: readonly string[];
  readonly secure: boolean;
  /** How long a session row lives without a request when the cookie ends with the browser. */
  readonly idleSeconds: number;
  /** Seconds between sweeps of expired rows; false for none (tests). */
  readonly pruneSeconds: number | false;
  /** A user's open sessions are capped: at a login beyond this, the least recently used end. */
  readonly maxPerUser: number;
  /**
   * A user's logins waiting for their second factor are capped apart from their sessions (they
   * never push one out): at one beyond this, the oldest waiting ends.
   */
  readonly maxPendingPerUser: number;
  /**
   * The pages (GET) that may start a session: an identity provider sends the browser back to its
   * callback with a GET, and a sign-in there is a login. Every other GET without the cookie skips
   * express-session (see createSessions).
   */
  readonly mayLogIn?: (req: Request) => boolean;
}

export interface Sessions {
  readonly middleware: RequestHandler;
  /** True when the request came with a session cookie. */
  hasCookie(req: Request): boolean;
  /** Tells the browser to drop its session cookie (its session is gone: no need to look it up again). */
  forgetCookie(res: Response): void;
  /** Stops the prune timer; the pool is closed by its owner. */
  close(): Promise<void>;
}

export const REMEMBER_ME_MS = 30 * 24 * 60 * 60 * 1000;
/** A session row's expiry moves at most this often: a page view costs no write in between. */
const TOUCH_EVERY_MS = 60_000;

/**
 * What the store read with a session besides the session itself. Kept beside the request, never
 * on the session: express-session hashes the whole session (JSON) as it is loaded and again
 * as the response ends, and none of this is ever written back.
 */
interface RowRead {
  /** The session id (as the cookie has it) the row was read by. */
  readonly sid: string;
  /** Its hash, so that a touch or save of the same session hashes nothing again. */
  readonly hash: SidHash;
  /** The row's expiry (ms since the epoch), as read. */
  readonly expiresAt: number;
  /** The session's user, read in the same statement (active users only). */
  readonly user: User | null;
}
const rowsRead = new WeakMap<Request, RowRead>();
/**
 * The request whose session the store is being asked for: express-session calls the store's
 * get() synchronously from its middleware, which the middleware below wraps.
 */
let reading: Request | undefined;

/** What was read with `sid`'s row for this request, if it was (not for a session made since). */
const rowReadFor = (req: Request | undefined, sid: string): RowRead | undefined => {
  const read = req === undefined ? undefined : rowsRead.get(req);
  return read?.sid === sid ? read : undefined;
};
/** The request a session belongs to: express-session's Session keeps it (not enumerable). */
const requestOf = (sess: SessionData): Request | undefined => (sess as { req?: Request }).req;

/**
 * The user the store read with this session (active users only): null when the session's user
 * is gone or deactivated, undefined when no session row was read.
 */
export const loadedUser = (req: Request): User | null | undefined =>
  typeof req.sessionID === 'string' ? rowReadFor(req, req.sessionID)?.user : undefined;

/** What a session holds: a login (its user and when it logged in); a login in progress is login/'s (login-in-progress.ts). */
declare module 'express-session' {
  interface SessionData {
    userId?: number;
    /** When this session logged in (ms since the epoch): the clock of the absolute lifetime. */
    authAt?: number;
    /** When the user last proved it was them again (password or second factor) for a sensitive page. */
    confirmedAt?: number;
    /** Where a login came from: written to the row's own columns at the next save, not kept in the JSON. */
    client?: Origin;
  }
}

/**
 * connect-pg-simple (its prune timer), with our own reads and writes
 * (src/sessions/sessions-repo.ts):
 * - the row is found by the SHA-256 of the session id, never the id itself: each method hashes
 *   the id it is given, once per request (a session read from its row keeps its hash).
 * - a page view writes nothing unless the expiry has to move by a minute or
 *   more: get() also reads the row's expiry, touch() skips the UPDATE when the
 *   new expiry is within a minute of it. The idle timeout stays exact to the minute.
 * - the user id, and the IP and browser a login came from, go to indexed
 *   columns, so a user's sessions are found without reading JSON.
 * - a session read from its row is only ever updated, never re-inserted: a
 *   request in flight cannot bring back a session ended meanwhile.
 */
function thriftyStore(options: SessionOptions) {
  const PgStore = connectPgSimple(session);
  const rows = sessionsRepo(options.pool);
  const expiresAt = (sess: SessionData): number =>
    sess.cookie.expires ? new Date(sess.cookie.expires).getTime() : Date.now() + options.idleSeconds * 1000;

  return new (class extends PgStore {
    constructor(...args: ConstructorParameters<typeof PgStore>) {
      super(...args);
      // connect-pg-simple arms its prune timer from its own get/set, which are
      // replaced here: one sweep now arms it (and clears what expired while we were down).
      if (options.pruneSeconds !== false) this.pruneSessions();
    }

    override get(sid: string, callback: (error: unknown, session?: SessionData | null) => void): void {
      const req = reading;
      reading = undefined;
      const hash = hashSid(sid);
      rows.load(hash).then((row) => {
        if (!row) return callback(null, null);
        if (req) rowsRead.set(req, { sid, hash, expiresAt: Date.now() + row.msLeft, user: row.user });
        callback(null, row.sess as SessionData);
      }, callback);
    }

    override set(sid: string, sess: SessionData, callback?: (error?: unknown) => void): void {
      const { client, ...rest } = sess;
      const read = rowReadFor(requestOf(sess), sid);
      const hash = read?.hash ?? hashSid(sid);
      const write = {
        sess: rest,
        expiresAt: Math.ceil(expiresAt(sess) / 1000),
        // A login waiting for its second factor belongs to its user too: ending their sessions ends it.
        userId: sess.userId ?? sess.loginInProgress?.userId ?? null,
        pending: sess.userId === undefined && sess.loginInProgress !== undefined,
        ip: client?.ip ?? null,
        userAgent: client?.userAgent ?? null,
        startedAt: sess.authAt ?? null,
      };
      const saved =
        read !== undefined
          ? rows.update(hash, write)
          : rows.insert(hash, write).then(async () => {
              if (write.userId === null) return;
              // A pending login only ever ends older pending ones: a flood of right passwords
              // without the second factor cannot end the owner's sessions.
              if (write.pending) await rows.trimFor(write.userId, 'pending', options.maxPendingPerUser);
              else await rows.trimFor(write.userId, 'logins', options.maxPerUser);
            });
      saved.then(() => callback?.(), callback);
    }

    override touch(sid: string, sess: SessionData, callback?: () => void): void {
      const read = rowReadFor(requestOf(sess), sid);
      const expires = expiresAt(sess);
      if (read !== undefined && Math.abs(expires - read.expiresAt) < TOUCH_EVERY_MS) {
        callback?.();
        return;
      }
      // express-session ignores a failed touch; so do we (the next one retries).
      rows.touch(read?.hash ?? hashSid(sid), Math.ceil(expires / 1000), TOUCH_EVERY_MS / 1000).then(
        () => callback?.(),
        () => callback?.(),
      );
    }

    // connect-pg-simple's own would delete by the raw id, which no row holds: logout and the
    // new id at login (regenerate) come through here.
    override destroy(sid: string, callback?: (error?: unknown) => void): void {
      rows.destroy(hashSid(sid)).then(
        () => callback?.(),
        (error: unknown) => callback?.(error),
      );
    }
  })({
    pool: options.pool,
    tableName: 'sessions',
    createTableIfMissing: false, // the table is migrations 002 and 005
    ttl: options.idleSeconds,
    pruneSessionInterval: options.pruneSeconds,
    errorLog: () => {}, // failures reach express-session's callback and the error handler
  });
}

/**
 * Session ids: 24 bytes (192 bits) from the CSPRNG, as express-session's own, drawn from a pool
 * (random-ids.ts) rather than a call into the CSPRNG per id.
 */
const newSessionId = (): string => randomId(24);

type ThriftyStore = ReturnType<typeof thriftyStore>;

/** The session id in a session cookie's value ("s:" + id, signed by one of `secrets`), or false. */
function sessionIdOf(value: unknown, secrets: readonly string[]): string | false {
  if (typeof value !== 'string' || !value.startsWith('s:')) return false;
  for (const secret of secrets) {
    const sid = unsign(value.slice(2), secret);
    if (sid !== false) return sid;
  }
  return false;
}

/** What express-session compares to tell a changed session: everything in it but its cookie. */
const contentsOf = (sess: SessionData): string =>
  JSON.stringify(sess, function (this: unknown, key, value: unknown) {
    return this === sess && key === 'cookie' ? undefined : value;
  });

/**
 * A page view (GET or HEAD) of a session's browser, done as express-session does it, with less:
 * the cookie is verified with the same secrets, the session read through the same store and
 * made into express-session's own Session (its save, regenerate and destroy work as ever), and as
 * the response ends, as express-session would:
 * - a session changed and not saved since is saved before the response ends;
 * - an unchanged one has its expiry moved (the store's touch, which writes at most once a minute);
 * - the cookie is sent again when the id changed, or when a lasting cookie's session changed.
 * What it leaves out is express-session's work for sessions that do not exist yet (a page view
 * never starts one) and its hashing of the whole session three times per request. A cookie that
 * does not verify, or names no live session, leaves the request without a session, as the page
 * view of a browser without the cookie is.
 */
function pageViews(store: ThriftyStore, cookieName: string, options: SessionOptions): RequestHandler {
  const [signing] = options.secrets;
  if (signing === undefined) throw new Error('createSessions needs a secret');
  return (req, res, next) => {
    req.sessionStore = store as unknown as typeof req.sessionStore;
    const sid = sessionIdOf((req.cookies as Record<string, unknown>)[cookieName], options.secrets);
    if (sid === false) {
      next();
      return;
    }
    // The store's get() takes the request from here synchronously (see `reading`).
    reading = req;
    store.get(sid, (error, sess) => {
      if (error) {
        next(error);
        return;
      }
      if (!sess) {
        next();
        return;
      }
      req.sessionID = sid;
      const loaded = store.createSession(req, sess);
      // As express-session: the cookie goes again when the session differs from what was read;
      // the session is saved at the end when it differs from what was last saved.
      const read = contentsOf(loaded);
      let saved = read;
      const save = loaded.save;
      loaded.save = function (this: typeof loaded, callback) {
        saved = contentsOf(this);
        return save.call(this, callback);
      };
      onHeaders(res, () => {
        const current = req.session as typeof req.session | undefined;
        if (current === undefined) return;
        const renewed = req.sessionID !== sid;
        if (!renewed && (current.cookie.expires == null || contentsOf(current) === read)) return;
        const { expires, httpOnly, path, sameSite, secure, domain } = current.cookie;
        res.cookie(cookieName, `s:${sign(req.sessionID, signing)}`, {
          ...(expires ? { expires } : {}),
          httpOnly,
          path,
          sameSite,
          secure: secure === true,
          ...(domain === undefined ? {} : { domain }),
        });
      });
      const end = res.end;
      res.end = function (this: Response, ...args: Parameters<Response['end']>) {
        res.end = end;
        const current = req.session as typeof req.session | undefined;
        // Ended (destroyed), or renewed by a login, which saved it itself: nothing to add.
        if (current === undefined || req.sessionID !== sid) return end.apply(this, args);
        const finish = () => end.apply(this, args);
        current.touch();
        if (contentsOf(current) !== saved) {
          current.save((saveError?: unknown) => {
            if (saveError) setImmediate(() => next(saveError));
            finish();
          });
        } else store.touch(sid, current, finish);
        return this;
      } as Response['end'];
      next();
    });
    reading = undefined;
  };
}

export function createSessions(options: SessionOptions): Sessions {
  const store = thriftyStore(options);
  // __Host- makes the browser refuse the cookie unless it is Secure, Path=/ and host-only.
  const cookieName = options.secure ? '__Host-gatehouse.sid' : 'gatehouse.sid';
  const middleware = session({
    store,
    name: cookieName,
    genid: newSessionId,
    secret: [...options.secrets],
    resave: false,
    saveUninitialized: false,
    // 'keep', not 'destroy': a session read that fails (the database away for a moment) leaves
    // req.session unset, and with 'destroy' express-session would then delete the row as the
    // error page goes out, logging the user out over a blip. Sessions end through regenerate().
    unset: 'keep',
    cookie: { httpOnly: true, sameSite: 'lax', secure: options.secure, path: '/' },
  });
  const views = pageViews(store, cookieName, options);
  const hasCookie = (req: Request): boolean =>
    typeof (req.cookies as Record<string, unknown> | undefined)?.[cookieName] === 'string';
  return {
    // express-session's middleware runs for a form post, which may log in, and for a GET that may
    // (options.mayLogIn: a provider's callback). Any other page (GET or HEAD) starts no session:
    // with the session cookie it reads its session through pageViews above; without it, it has no
    // req.session at all (no session object made, hashed and thrown away), and the store is there
    // all the same.
    middleware: (req, res, next) => {
      // (Known only once cookie-parser has run: without req.cookies, express-session always runs.)
      if (
        (req.method === 'GET' || req.method === 'HEAD') &&
        req.cookies !== undefined &&
        !(options.mayLogIn?.(req) ?? false)
      ) {
        if (hasCookie(req)) {
          views(req, res, next);
          return;
        }
        // express-session gave the store its generate() when the middleware was made.
        req.sessionStore = store as unknown as typeof req.sessionStore;
        next();
        return;
      }
      reading = req;
      try {
        middleware(req, res, next);
      } finally {
        reading = undefined;
      }
    },
    hasCookie,
    forgetCookie: (res) => {
      res.clearCookie(cookieName, { httpOnly: true, sameSite: 'lax', secure: options.secure, path: '/' });
    },
    close: async () => store.close(),
  };
}
