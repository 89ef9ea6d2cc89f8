import { createHash } from 'node:crypto';
import type pg from 'pg';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';

export interface ThrottleLimits {
  readonly loginFailuresPerAccount: number;
  readonly loginFailuresPerIp: number;
  readonly signupsPerIp: number;
}

/** Seconds until the visitor may try again; only present when they are over a limit. */
export type Verdict = { allowed: true } | { allowed: false; retryAfterSeconds: number };

const ALLOWED: Verdict = { allowed: true };
const ACCOUNT_WINDOW_SECONDS = 15 * 60;
const IP_WINDOW_SECONDS = 60 * 60;
/** Links by mail (reset, verification): a few per address an hour, so nobody's inbox can be flooded. */
const LINKS_PER_ADDRESS = 3;
const LINKS_PER_IP = 30;

/**
 * The account part of a login key: the email as a person means it, so
 * "ⓣⓔⓢⓣ@Example.com" and "test@example.com" share one count.
 */
export const accountKey = (email: string): string => email.normalize('NFKC').trim().toLowerCase();

// Keys are hashed: fixed length for the store's varchar(255), and no emails in the table.
const hashed = (...parts: string[]) => createHash('sha256').update(parts.join('\u0000')).digest('hex');

/**
 * The library names its prepared statements; on the embedded Postgres every
 * pooled connection shares one backend, so a name prepared on one connection
 * collides on the next. Unnamed statements work the same on both.
 */
function unnamedStatements(pool: pg.Pool) {
  return {
    query: (q: { text: string; values?: unknown[] }) => pool.query({ text: q.text, values: q.values }),
  };
}

/**
 * Counts kept in Postgres (table rate_limits), so every app instance sees the
 * same numbers. Windows are fixed and short: no permanent lockout.
 */
export function createThrottle(pool: pg.Pool, limits: ThrottleLimits, sweepExpired: boolean) {
  const limiter = (keyPrefix: string, points: number, duration: number) =>
    new RateLimiterPostgres({
      storeClient: unnamedStatements(pool),
      storeType: 'pool',
      tableName: 'rate_limits',
      tableCreated: true, // migration 003
      clearExpiredByTimeout: sweepExpired,
      keyPrefix,
      points,
      duration,
    });
  const perAccount = limiter('login_account', limits.loginFailuresPerAccount, ACCOUNT_WINDOW_SECONDS);
  const perIp = limiter('login_ip', limits.loginFailuresPerIp, IP_WINDOW_SECONDS);
  const signups = limiter('signup_ip', limits.signupsPerIp, IP_WINDOW_SECONDS);
  const linksPerAddress = limiter('mail_link_address', LINKS_PER_ADDRESS, IP_WINDOW_SECONDS);
  const linksPerIp = limiter('mail_link_ip', LINKS_PER_IP, IP_WINDOW_SECONDS);

  // consume() counts and checks in one upsert, so parallel attempts cannot slip past the limit.
  const consume = async (checks: Array<[RateLimiterPostgres, string]>): Promise<Verdict> => {
    let wait = 0;
    for (const [store, key] of checks) {
      try {
        await store.consume(key);
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection; // the store failed: a real error
        wait = Math.max(wait, rejection.msBeforeNext);
      }
    }
    return wait > 0 ? { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(wait / 1000)) } : ALLOWED;
  };
  const accountIpKey = (email: string, ip: string) => hashed(accountKey(email), ip);

  return {
    /** Counts a login attempt against the account+IP and the IP; asked before any password check. */
    loginAttempt: (email: string, ip: string): Promise<Verdict> =>
      consume([
        [perAccount, accountIpKey(email, ip)],
        [perIp, hashed(ip)],
      ]),
    /** A success was no failure: clear the account's count and give the IP its point back. */
    async loginSucceeded(email: string, ip: string): Promise<void> {
      await Promise.all([perAccount.delete(accountIpKey(email, ip)), perIp.reward(hashed(ip))]);
    },
    signupAttempt: (ip: string): Promise<Verdict> => consume([[signups, hashed(ip)]]),
    /**
     * Counts a request for a link by mail (password reset, verification sent
     * again) against the address, whoever asks, and the IP. Counted whether or
     * not the address has an account, so the answer reveals nothing.
     */
    mailLinkRequest: (email: string, ip: string): Promise<Verdict> =>
      consume([
        [linksPerAddress, hashed(accountKey(email))],
        [linksPerIp, hashed(ip)],
      ]),
  };
}

export type Throttle = ReturnType<typeof createThrottle>;
