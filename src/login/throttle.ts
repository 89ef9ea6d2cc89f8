import { createHash } from 'node:crypto';
import type pg from 'pg';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import { clientNetwork } from './client-network.js';
import { secondFactorGuessesRepo } from './second-factor-guesses-repo.js';

export interface ThrottleLimits {
  readonly loginFailuresPerAccount: number;
  readonly loginFailuresPerAccountTotal: number;
  readonly loginFailuresPerIp: number;
  readonly passwordChecksPerIp: number;
  readonly signupsPerIp: number;
  readonly mailLinksPerIp: number;
  readonly emailChangesPerUser: number;
  readonly adminSearchesPerHour: number;
  readonly adminActionsPerHour: number;
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
    };

const ALLOWED: Verdict = { allowed: true };
const MINUTE = 60;
const HOUR = 60 * MINUTE;
const ACCOUNT_WINDOW_SECONDS = 15 * MINUTE;
/**
 * Wrong second-factor codes (app or recovery codes together) per account, from browsers the owner
 * has not completed a login in, since the last right one: the first few are free...
 */
const FREE_CODE_GUESSES = 5;
/** ...then each waits, 15 minutes after the fifth, twice as long after each next one, up to a day... */
const CODE_WAIT_MS = 15 * MINUTE * 1000;
const CODE_MAX_WAIT_MS = 24 * HOUR * 1000;
/** ...and at 100 in a row they stop (NIST SP 800-63B §3.2.2), until a right code or a new password. */
export const CODE_GUESSES_CAP = 100;
/**
 * A browser holding the account's device cookie (it completed a login) has guesses of its own,
 * password and codes together, that nobody elsewhere can spend; once it has used them up its
 * cookie is trusted no more. They last as long as the cookie, and a whole login gives a new one.
 */
const DEVICE_GUESSES = 5;
const DEVICE_COOKIE_SECONDS = 180 * 24 * HOUR;
/** Wrong codes in a day, whatever the logins and networks, before the owner is mailed (once a day). */
export const CODES_BEFORE_WARNING = 3;
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
   * this browser has completed a login to it before. Null for an unknown browser.
   */
  readonly device: string | null;
}

/** A second-factor code about to be checked: whose, and the trusted browser whose guesses it spent (else the account's). */
export interface CodeAttempt {
  readonly userId: number;
  readonly device: string | null;
}

/** A code may be checked (and which guesses it spent), or a refusal. */
export type CodeVerdict = Extract<Verdict, { allowed: false }> | { allowed: true; attempt: CodeAttempt };

/** How long an untrusted browser waits after the `failures`th wrong code in a row (0: the next is free). */
export const codeWaitMs = (failures: number): number =>
  failures < FREE_CODE_GUESSES ? 0 : Math.min(CODE_WAIT_MS * 2 ** (failures - FREE_CODE_GUESSES), CODE_MAX_WAIT_MS);

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
  // The admin console, per admin: a stolen admin session cannot page through every account, or act on many.
  const adminSearches = limiter('admin_search', limits.adminSearchesPerHour, HOUR);
  const adminActions = limiter('admin_action', limits.adminActionsPerHour, HOUR);

  const deviceGuesses = limiter('device_guesses', DEVICE_GUESSES, DEVICE_COOKIE_SECONDS);
  const codeGuesses = secondFactorGuessesRepo(pool);

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
  const deviceKey = (device: string) => hashed('device', device);
  /**
   * Spends one of a trusted browser's own guesses (before the guess is checked, so parallel ones
   * cannot slip past); false once they are used up: the browser then counts as unknown.
   */
  async function spendDeviceGuess(device: string | null): Promise<boolean> {
    if (device === null) return false;
    try {
      await deviceGuesses.consume(deviceKey(device));
      return true;
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      return false;
    }
  }
  const codeRefusal = (userId: number, waitMs: number): Extract<Verdict, { allowed: false }> => ({
    allowed: false,
    retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
    key: `second_factor_user:${hashed(String(userId))}`,
    resetsAt: Date.now() + waitMs,
  });

  return {
    /**
     * Counts a password check before it runs: against the account (on this network, or this
     * trusted browser, which also spends one of its own guesses), the account from anywhere
     * (unknown browsers only: a browser the owner has completed a login in is never held by it),
     * the network's failures, and every check from the network, right or wrong, so one client
     * cannot keep bcrypt busy. A browser whose own guesses are used up counts as unknown:
     * `client` is who the check counted as, for loginSucceeded.
     */
    async loginAttempt(claimed: LoginClient): Promise<{ verdict: Verdict; client: LoginClient }> {
      const client = { ...claimed, device: (await spendDeviceGuess(claimed.device)) ? claimed.device : null };
      const verdict = await consume([
        [perAccount, accountCountKey(client)],
        ...(client.device === null
          ? [[perAccountTotal, hashed(accountKey(client.email))] as [RateLimiterPostgres, string]]
          : []),
        [perIp, network(client.ip)],
        [checksPerIp, network(client.ip)],
      ]);
      return { verdict, client };
    },
    /**
     * A success was no failure: clear the account's count here and give the other failure counts
     * (a trusted browser's own guesses too) their point back. `client` as loginAttempt returned it.
     */
    async loginSucceeded(client: LoginClient): Promise<void> {
      await Promise.all([
        perAccount.delete(accountCountKey(client)),
        client.device === null
          ? perAccountTotal.reward(hashed(accountKey(client.email)))
          : deviceGuesses.reward(deviceKey(client.device)),
        perIp.reward(network(client.ip)),
      ]);
    },
    /**
     * Counts a signed answer before it is checked (a passkey's, an identity provider's), against
     * the network's failures and its checks (as a password is): a forged or replayed answer is a
     * guess like a wrong password.
     */
    signedAnswerAttempt: (ip: string): Promise<Verdict> =>
      consume([
        [perIp, network(ip)],
        [checksPerIp, network(ip)],
      ]),
    /** A verified answer was no failure: the network's failure count gets its point back. */
    signedAnswerSucceeded: async (ip: string): Promise<void> => {
      await perIp.reward(network(ip));
    },
    signupAttempt: (ip: string): Promise<Verdict> => consume([[signups, network(ip)]]),
    /** A page of the console's user search or audit trail, counted for the admin who asked. */
    adminSearch: (adminId: number): Promise<Verdict> => consume([[adminSearches, hashed(String(adminId))]]),
    /** An action taken from the console (once confirmed), counted for the admin who took it. */
    adminAction: (adminId: number): Promise<Verdict> => consume([[adminActions, hashed(String(adminId))]]),
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
     * Counts a second-factor code (an app's or a recovery code) before it is checked. From a
     * trusted browser (`device`, whose cookie the owner earned by a whole login) it spends that
     * browser's own guesses while it has some; otherwise the account's, whatever the pending
     * login or network: 5 free, then a wait that doubles with each wrong code in a row, and none
     * at all after 100 in a row. So an attacker with the password is slowed to a handful of
     * guesses a day, and cannot spend the guesses of the owner's own browser.
     */
    async secondFactorAttempt(userId: number, device: string | null): Promise<CodeVerdict> {
      if (await spendDeviceGuess(device)) return { allowed: true, attempt: { userId, device } };
      // Compare-and-set on the count: of two requests that read the same count, one takes the guess.
      for (;;) {
        const state = await codeGuesses.read(userId);
        const now = Date.now();
        if (state.failures >= CODE_GUESSES_CAP) return codeRefusal(userId, CODE_MAX_WAIT_MS);
        if (state.nextAt !== null && state.nextAt.getTime() > now) {
          return codeRefusal(userId, state.nextAt.getTime() - now);
        }
        const wait = codeWaitMs(state.failures + 1);
        if (await codeGuesses.take(userId, state.failures, wait === 0 ? null : new Date(now + wait))) {
          return { allowed: true, attempt: { userId, device: null } };
        }
      }
    },
    /** A right second factor: the account's count starts again, and a trusted browser gets its guess back. */
    async secondFactorSucceeded({ userId, device }: CodeAttempt): Promise<void> {
      await codeGuesses.clear(userId);
      if (device !== null) await deviceGuesses.reward(deviceKey(device));
    },
    /**
     * A wrong code at login, from any browser: true for the one that should warn the owner, the
     * third in a day (counted per account, whatever the logins and networks), at most once a day.
     */
    async secondFactorFailed({ userId }: CodeAttempt): Promise<boolean> {
      const now = new Date(Date.now());
      const today = await codeGuesses.countInDay(userId, now);
      return today >= CODES_BEFORE_WARNING && (await codeGuesses.claimWarning(userId, now));
    },
    /** Counts a request to change a user's address, whatever it comes to. */
    emailChangeRequest: (userId: number): Promise<Verdict> => consume([[emailChanges, hashed(String(userId))]]),
  };
}

export type Throttle = ReturnType<typeof createThrottle>;
