import { createHash } from 'node:crypto';
import type pg from 'pg';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import { clientNetwork } from './client-network.js';

export interface ThrottleLimits {
  readonly loginFailuresPerAccount: number;
  readonly loginFailuresPerAccountTotal: number;
  readonly loginFailuresPerIp: number;
  readonly passwordChecksPerIp: number;
  readonly signupsPerIp: number;
  readonly mailLinksPerIp: number;
  readonly emailChangesPerUser: number;
}

/**
 * Seconds until the visitor may try again, and which count stopped them (a
 * hashed key, so repeated refusals can be recorded as one); only present when
 * they are over a limit.
 */
export type Verdict =
  | { allowed: true }
  | {
      allowed: false;
      retryAfterSeconds: number;
      key: string;
      resetsAt: number;
      /** This refusal started a wait (the limit was just reached), rather than falling in one. */
      started?: boolean;
    };

const ALLOWED: Verdict = { allowed: true };
const MINUTE = 60;
const HOUR = 60 * MINUTE;
const ACCOUNT_WINDOW_SECONDS = 15 * MINUTE;
/** Wrong second-factor codes (app or recovery) per user, whatever the pending login or network... */
const SECOND_FACTOR_GUESSES = 5;
const SECOND_FACTOR_WINDOW = 15 * MINUTE;
/** ...then a wait that doubles with each time the limit is reached in a day, up to a day. */
const SECOND_FACTOR_MAX_WAIT = 24 * HOUR;
/** Links by mail (reset, verification): few per address and network, so nobody's inbox can be flooded... */
const LINKS_PER_ADDRESS_AND_NETWORK = 3;
/** ...but one network cannot stop an address's own owner from getting a link: the address alone has more room. */
const LINKS_PER_ADDRESS = 20;

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

/** Who is logging in: the account they name, where from, and the device cookie that account gave this browser. */
export interface LoginClient {
  readonly email: string;
  readonly ip: string;
  /**
   * The nonce of a valid device cookie for this account (OWASP's device cookies):
   * this browser has logged in to it before. Null for an unknown browser.
   */
  readonly device: string | null;
}

/**
 * Counts kept in Postgres (table rate_limits), so every app instance sees the
 * same numbers. Windows are fixed and short: no permanent lockout. Addresses
 * are counted by network (clientNetwork): an IPv6 client by its /64.
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
  const perAccountTotal = limiter('login_account_total', limits.loginFailuresPerAccountTotal, HOUR);
  const perIp = limiter('login_ip', limits.loginFailuresPerIp, HOUR);
  const checksPerIp = limiter('password_checks_ip', limits.passwordChecksPerIp, HOUR);
  const signups = limiter('signup_ip', limits.signupsPerIp, HOUR);
  const linksPerAddressAndNetwork = limiter('mail_link_address_network', LINKS_PER_ADDRESS_AND_NETWORK, HOUR);
  const linksPerAddress = limiter('mail_link_address_total', LINKS_PER_ADDRESS, HOUR);
  const linksPerNetwork = limiter('mail_link_ip', limits.mailLinksPerIp, HOUR);
  // Requests to move an account to another address, whatever the answer (sent, taken, refused).
  const emailChanges = limiter('email_change_user', limits.emailChangesPerUser, HOUR);

  const secondFactor = limiter('second_factor_user', SECOND_FACTOR_GUESSES, SECOND_FACTOR_WINDOW);
  const secondFactorWaits = limiter('second_factor_waits', 1_000_000, SECOND_FACTOR_MAX_WAIT);

  // consume() counts and checks in one upsert, so parallel attempts cannot slip past the limit.
  // Every check is counted, even after one refuses: a refused attempt is still an attempt.
  const consume = async (checks: Array<[RateLimiterPostgres, string]>): Promise<Verdict> => {
    let refused: Extract<Verdict, { allowed: false }> | null = null;
    for (const [store, key] of checks) {
      try {
        await store.consume(key);
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection; // the store failed: a real error
        const waitMs = rejection.msBeforeNext;
        if (refused === null || waitMs > refused.retryAfterSeconds * 1000) {
          refused = {
            allowed: false,
            retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
            key: `${store.keyPrefix}:${key}`,
            resetsAt: Date.now() + waitMs,
          };
        }
      }
    }
    return refused ?? ALLOWED;
  };
  const network = (ip: string) => hashed(clientNetwork(ip));
  // With a device cookie the account's count is this browser's own (an attacker's guesses
  // elsewhere do not touch it); without one it is the account's on this network.
  const accountCountKey = ({ email, ip, device }: LoginClient) =>
    device === null ? hashed(accountKey(email), clientNetwork(ip)) : hashed(accountKey(email), 'device', device);

  return {
    /**
     * Counts a password check before it runs: against the account (on this network, or
     * this trusted browser), the account from anywhere (unknown browsers only: a browser
     * the owner has logged in from is never held by it), the network's failures, and
     * every check from the network, right or wrong, so one client cannot keep bcrypt busy.
     */
    loginAttempt: (client: LoginClient): Promise<Verdict> =>
      consume([
        [perAccount, accountCountKey(client)],
        ...(client.device === null
          ? [[perAccountTotal, hashed(accountKey(client.email))] as [RateLimiterPostgres, string]]
          : []),
        [perIp, network(client.ip)],
        [checksPerIp, network(client.ip)],
      ]),
    /** A success was no failure: clear the account's count here and give the other failure counts their point back. */
    async loginSucceeded(client: LoginClient): Promise<void> {
      await Promise.all([
        perAccount.delete(accountCountKey(client)),
        client.device === null ? perAccountTotal.reward(hashed(accountKey(client.email))) : Promise.resolve(),
        perIp.reward(network(client.ip)),
      ]);
    },
    /**
     * Counts a passkey's answer before it is checked, against the network's failures and its
     * checks (as a password is): a forged or replayed answer is a guess like a wrong password.
     */
    passkeyAttempt: (ip: string): Promise<Verdict> =>
      consume([
        [perIp, network(ip)],
        [checksPerIp, network(ip)],
      ]),
    /** A verified passkey was no failure: the network's failure count gets its point back. */
    passkeySucceeded: async (ip: string): Promise<void> => {
      await perIp.reward(network(ip));
    },
    signupAttempt: (ip: string): Promise<Verdict> => consume([[signups, network(ip)]]),
    /**
     * Counts a request for a link by mail (password reset, verification, an email
     * change) against the address from this network, the address from anywhere, and
     * the network. Counted whether or not the address has an account, so the answer
     * reveals nothing.
     */
    mailLinkRequest: (email: string, ip: string): Promise<Verdict> =>
      consume([
        [linksPerAddressAndNetwork, hashed(accountKey(email), clientNetwork(ip))],
        [linksPerAddress, hashed(accountKey(email))],
        [linksPerNetwork, network(ip)],
      ]),
    /**
     * Counts a second-factor code (an app's or a recovery code) against its user, before it is
     * checked: 5, then a wait of 15 minutes, doubling each time the limit is reached again within
     * a day. Keyed by the user, so a restarted login or another network changes nothing.
     */
    async secondFactorAttempt(userId: number): Promise<Verdict> {
      const key = hashed(String(userId));
      try {
        await secondFactor.consume(key);
        return ALLOWED;
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        let waitMs = rejection.msBeforeNext;
        const started = rejection.consumedPoints === SECOND_FACTOR_GUESSES + 1;
        if (started) {
          const times = (await secondFactorWaits.consume(key)).consumedPoints;
          waitMs = Math.min(SECOND_FACTOR_WINDOW * 1000 * 2 ** (times - 1), SECOND_FACTOR_MAX_WAIT * 1000);
          await secondFactor.block(key, Math.ceil(waitMs / 1000));
        }
        return {
          allowed: false,
          retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
          key: `${secondFactor.keyPrefix}:${key}`,
          resetsAt: Date.now() + waitMs,
          started,
        };
      }
    },
    /** A right code: the user's count starts again (the waits already earned today stay counted). */
    secondFactorSucceeded: async (userId: number): Promise<void> => {
      await secondFactor.delete(hashed(String(userId)));
    },
    /** Counts a request to change a user's address, whatever it comes to. */
    emailChangeRequest: (userId: number): Promise<Verdict> => consume([[emailChanges, hashed(String(userId))]]),
  };
}

export type Throttle = ReturnType<typeof createThrottle>;
