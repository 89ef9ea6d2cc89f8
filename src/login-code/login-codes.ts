import type { Result } from '../flows/result.js';
import { createHash, randomInt } from 'node:crypto';
import { type AuthEventsRepo, recorder } from '../audit/auth-events-repo.js';
import { keyring } from '../crypto/keyring.js';
import type { Db } from '../db/database.js';
import type { Transactions } from '../db/transactions.js';
import { type Caller, networkOf } from '../flows/caller.js';
import type { EnforceLimit } from '../flows/limits.js';
import type { Throttle } from '../login/throttle.js';
import type { Mailer } from '../mail/mail-queue.js';
import { messages } from '../messages.js';
import type { Origin } from '../users/origin.js';
import type { User, UsersRepo } from '../users/users-repo.js';
import type { LoginCodesRepo } from './login-codes-repo.js';

/** The code's letters: no 0/O, 1/I, so it reads back unambiguously from any font. */
export const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const CODE_LENGTH = 6;
export const CODE_MINUTES = 15;
/** Wrong tries a code takes before it dies. */
export const CODE_TRIES = 5;

/** A new code: 6 letters from the alphabet, each from the CSPRNG (30 bits). */
export const newCode = (): string =>
  Array.from({ length: CODE_LENGTH }, () => CODE_ALPHABET[randomInt(CODE_ALPHABET.length)]).join('');

/** The code as mailed: XXX-XXX. */
export const formatCode = (code: string): string => `${code.slice(0, 3)}-${code.slice(3)}`;

const CODE_SHAPE = new RegExp(`^[${CODE_ALPHABET}]{${CODE_LENGTH}}$`);
/** What a person typed, as a code: with or without the dash (and spaces), in any case; null when it cannot be one. */
export function normalizeCode(input: string): string | null {
  const code = input.replace(/[\s-]/g, '').toUpperCase();
  return CODE_SHAPE.test(code) ? code : null;
}

/** What a browser's request is known by: the SHA-256 of the nonce in its cookie. */
export const requestHashOf = (nonce: string): Buffer => createHash('sha256').update(nonce).digest();

export interface LoginCodesDeps {
  readonly users: UsersRepo;
  readonly codes: LoginCodesRepo;
  readonly events: AuthEventsRepo;
  readonly mailer: Mailer;
  /** Asking is limited like reset links, per address and network. */
  readonly throttle: Pick<Throttle, 'mailLinkRequest'>;
  readonly enforce: EnforceLimit;
  /** Where the mail is queued: the repos' database, so it joins the transaction. */
  readonly db: Db;
  readonly atomically: Transactions['atomically'];
  /** The session secrets: codes are stored as a MAC under a key derived from them. */
  readonly secrets: readonly string[];
}

/** What typing a code came to. */
export type CodeResult = Result<{ user: User }, 'wrong' | 'dead'>;

/**
 * Signing in with a one-time code by email: a first factor, like a password (login-steps then
 * asks for the second step of an account that has one). The code is bound to the browser that
 * asked (its cookie's nonce) and to the account, works once, for 15 minutes; 5 wrong tries kill
 * it. Only a MAC of it is stored. No HTTP here.
 */
export function loginCodes({
  users,
  codes,
  events,
  mailer,
  throttle,
  enforce,
  db,
  atomically,
  secrets,
}: LoginCodesDeps) {
  const keys = keyring(secrets, 'login code v1');
  const record = recorder(events);
  const macOf = (requestHash: Buffer, code: string) => keys.sign(`${requestHash.toString('hex')}\u0000${code}`);

  /** The worker's half of a request: only an active account gets a code, mailed to its address. */
  async function sendCode(email: string, requestHash: Buffer, origin: Origin): Promise<void> {
    const user = await users.findByEmail(email);
    if (!user?.isActive) return;
    const code = newCode();
    const expiresAt = new Date(Date.now() + CODE_MINUTES * 60_000);
    await atomically(async () => {
      await codes.insert(
        requestHash,
        user.id,
        user.email,
        Buffer.from(macOf(requestHash, code), 'base64url'),
        expiresAt,
      );
      await mailer.send(
        {
          to: user.email,
          template: 'login-code',
          data: {
            ...(user.emailVerifiedAt !== null ? { name: user.name } : {}),
            code: formatCode(code),
            expiresInMinutes: CODE_MINUTES,
          },
        },
        { db },
      );
      await record('login_code_sent', user.id, origin);
    });
  }

  mailer.onJob('login-code-request', ({ email, request, ip, userAgent }) =>
    sendCode(email, Buffer.from(request, 'hex'), { ip, userAgent }),
  );

  return {
    /**
     * Asks for a code to `email` for the browser whose request is `requestHash`. The same work
     * whatever the address: a job is queued, and the worker looks for the account.
     */
    async ask(email: string, requestHash: Buffer, caller: Caller): Promise<void> {
      await enforce(
        await throttle.mailLinkRequest(email, networkOf(caller)),
        caller.origin,
        messages.limits.codeRequests,
      );
      const { origin } = caller;
      await mailer.queueJob('login-code-request', {
        email,
        request: requestHash.toString('hex'),
        ip: origin.ip,
        userAgent: origin.userAgent,
      });
    },

    /**
     * A code typed in the browser whose request is `requestHash`: the try is counted before it
     * is checked. A right one is used up and proves the address it was mailed to (while it is
     * still the account's); a wrong one is recorded as a failed login, and the fifth kills it.
     */
    async enter(requestHash: Buffer, input: string, origin: Origin): Promise<CodeResult> {
      const tried = await codes.countTry(requestHash, new Date(Date.now()), CODE_TRIES);
      if (!tried) return { ok: false, reason: 'dead' };
      const code = normalizeCode(input);
      if (
        code === null ||
        !keys.verify(`${requestHash.toString('hex')}\u0000${code}`, tried.codeMac.toString('base64url'))
      ) {
        await record('login_failed', tried.userId, origin, 'a wrong sign-in code');
        if (tried.tries < CODE_TRIES) return { ok: false, reason: 'wrong' };
        await codes.take(requestHash);
        return { ok: false, reason: 'dead' };
      }
      return atomically(async (): Promise<CodeResult> => {
        const user = (await codes.take(requestHash)) ? await users.findActiveById(tried.userId) : null;
        if (!user) return { ok: false, reason: 'dead' };
        if (user.emailVerifiedAt !== null || user.email.toLowerCase() !== tried.email.toLowerCase()) {
          return { ok: true, user };
        }
        await users.confirmEmail(user.id, user.email);
        await record('email_verified', user.id, origin, `${user.email}, by a sign-in code`);
        return { ok: true, user: (await users.findActiveById(user.id)) ?? user };
      });
    },

    /** Removes codes that ran out (the hourly sweep). */
    sweepExpired: (): Promise<number> => codes.deleteExpired(new Date(Date.now())),
  };
}

export type LoginCodes = ReturnType<typeof loginCodes>;
