import { type Result, done, refused } from '../flows/result.js';
import { type AuthEventsRepo, recorder } from '../audit/auth-events-repo.js';
import type { Transactions } from '../db/transactions.js';
import { type SealedBox, sealedBox } from '../crypto/sealed-box.js';
import type { Origin } from '../users/origin.js';
import type { User } from '../users/users-repo.js';
import {
  FEW_RECOVERY_CODES,
  RECOVERY_CODES,
  hashRecoveryCode,
  newRecoveryCodes,
  normalizeRecoveryCode,
} from './recovery-codes.js';
import type { RecoveryCodesRepo } from './recovery-codes-repo.js';
import { matchingStep, newTotpSecret, normalizeCode, otpauthUri, qrCodeImage, readableKey } from './totp.js';
import type { TotpRepo } from './totp-repo.js';

/** A change to how an account signs in, as its notice names it. */
export type FactorChange =
  | 'totp-enabled'
  | 'totp-disabled'
  | 'recovery-codes-generated'
  | 'recovery-code-used'
  | 'mfa-reset'
  | 'passkey-added'
  | 'passkey-removed';

/** The mail this feature sends; the mail flows implement it (wired in app.ts). */
export interface SecondFactorNotices {
  factorChanged(user: User, change: FactorChange, origin: Origin, codesLeft?: number): Promise<void>;
  /** A right password followed by wrong codes: someone may have it. */
  secondFactorFailing(user: User, origin: Origin): Promise<void>;
}

export interface SecondFactorDeps {
  readonly totp: TotpRepo;
  readonly codes: RecoveryCodesRepo;
  readonly events: AuthEventsRepo;
  readonly notices: SecondFactorNotices;
  /** The session secrets: the authenticator secrets are sealed with a key derived from them. */
  readonly secrets: readonly string[];
  /** The issuer an authenticator app shows beside the account ("Gatehouse"). */
  readonly issuer: string;
  /** How many passkeys the user has (they are a second factor too). */
  readonly passkeyCount: (userId: number) => Promise<number>;
  /** Each change (a factor on or off, new codes, a code used) is one transaction, its notice included. */
  readonly atomically: Transactions['atomically'];
}

export interface SecondFactorStatus {
  /** When the authenticator app was turned on, or null when it is off. */
  readonly totpSince: Date | null;
  readonly recoveryCodesLeft: number;
  /** How many codes a new set has ("3 of 10 left"). */
  readonly recoveryCodesPerSet: number;
  /** At or below this many left, the user is offered new ones. */
  readonly fewRecoveryCodes: number;
  readonly passkeys: number;
}

/** An enrolment in progress: the secret, sealed, as the session holds it until it is confirmed. */
export interface TotpEnrolment {
  readonly sealed: string;
  readonly startedAt: number;
}

/** An enrolment page: what the user scans or types into their app. */
export interface EnrolmentPage {
  readonly key: string;
  readonly uri: string;
  readonly qr: string;
}

/** An enrolment is good this long; then a new secret is made (the page shows it again). */
const ENROLMENT_MS = 30 * 60 * 1000;

/**
 * The second factor's use cases: enrolling an authenticator app (TOTP), recovery codes,
 * turning them off, and checking them at login. No HTTP here.
 */
export function secondFactor({
  totp,
  codes,
  events,
  notices,
  secrets,
  issuer,
  passkeyCount,
  atomically,
}: SecondFactorDeps) {
  // Stored secrets and the one in an enrolling session are sealed apart: neither opens as the other.
  const stored: SealedBox = sealedBox(secrets, 'gatehouse totp secret v1');
  const enrolling: SealedBox = sealedBox(secrets, 'gatehouse totp enrolment v1');
  const record = recorder(events);

  const openEnrolment = (userId: number, enrolment: TotpEnrolment | undefined): Buffer | null => {
    if (!enrolment || !(Date.now() - enrolment.startedAt < ENROLMENT_MS)) return null;
    try {
      return enrolling.open(Buffer.from(enrolment.sealed, 'base64'), `user ${userId}`);
    } catch {
      return null;
    }
  };

  /** Ten new recovery codes for the user (the old ones stop working); the codes, shown once. */
  async function issueRecoveryCodes(userId: number): Promise<string[]> {
    const fresh = newRecoveryCodes();
    await codes.replace(
      userId,
      fresh.map((code) => hashRecoveryCode(normalizeRecoveryCode(code) ?? '')),
    );
    return fresh;
  }

  return {
    async status(userId: number): Promise<SecondFactorStatus> {
      const [app, left, passkeys] = await Promise.all([totp.find(userId), codes.count(userId), passkeyCount(userId)]);
      return {
        totpSince: app?.createdAt ?? null,
        recoveryCodesLeft: left,
        recoveryCodesPerSet: RECOVERY_CODES,
        fewRecoveryCodes: FEW_RECOVERY_CODES,
        passkeys,
      };
    },

    /** True when a password alone does not log this user in. */
    async required(userId: number): Promise<boolean> {
      return (await totp.find(userId)) !== null || (await passkeyCount(userId)) > 0;
    },

    /** The enrolment the session holds, when it is still good; else a new one (a new secret). */
    enrolment(userId: number, current: TotpEnrolment | undefined): TotpEnrolment {
      if (openEnrolment(userId, current)) return current as TotpEnrolment;
      const sealed = enrolling.seal(newTotpSecret(), `user ${userId}`).toString('base64');
      return { sealed, startedAt: Date.now() };
    },

    /** What the enrolment page shows: the QR code, the key as text and the otpauth:// URI. */
    async enrolmentPage(user: User, enrolment: TotpEnrolment): Promise<EnrolmentPage | null> {
      const secret = openEnrolment(user.id, enrolment);
      if (!secret) return null;
      const uri = otpauthUri(secret, user.email, issuer);
      return { key: readableKey(secret), uri, qr: await qrCodeImage(uri) };
    },

    /**
     * Turns the app on when `code` is a current code of the enrolling secret (the caller has
     * checked the password): the secret is stored sealed, the code's step counts as used, and
     * ten recovery codes are made. The codes, to be shown once.
     */
    async confirm(
      user: User,
      enrolment: TotpEnrolment | undefined,
      input: string,
      origin: Origin,
    ): Promise<Result<{ codes: string[] }, 'expired' | 'wrong-code' | 'already-on'>> {
      const secret = openEnrolment(user.id, enrolment);
      if (!secret) return refused('expired');
      const code = normalizeCode(input);
      const step = code === null ? null : await matchingStep(secret, code, 0);
      if (step === null) return refused('wrong-code');
      return atomically(async () => {
        if (!(await totp.enable(user.id, stored.seal(secret, `user ${user.id}`), step))) return refused('already-on');
        const fresh = await issueRecoveryCodes(user.id);
        await record('totp_enabled', user.id, origin);
        await record('recovery_codes_generated', user.id, origin, `${fresh.length} codes, with the authenticator app`);
        await notices.factorChanged(user, 'totp-enabled', origin, fresh.length);
        return done({ codes: fresh });
      });
    },

    /**
     * Turns the app off (the caller has checked the password). The recovery codes go too, unless
     * a passkey stays as a second factor. `was-off` when there was nothing to turn off.
     */
    disable: (user: User, origin: Origin): Promise<Result<object, 'was-off'>> =>
      atomically(async () => {
        if (!(await totp.disable(user.id))) return refused('was-off');
        if ((await passkeyCount(user.id)) === 0) await codes.deleteAll(user.id);
        await record('totp_disabled', user.id, origin);
        await notices.factorChanged(user, 'totp-disabled', origin);
        return done({});
      }),

    /**
     * A first second factor other than the app (a passkey) was just added: recovery codes come
     * with it, as with the app, when the user has none. The codes to show once, or null.
     */
    codesForNewFactor: (user: User, origin: Origin): Promise<string[] | null> =>
      atomically(async () => {
        if ((await codes.count(user.id)) > 0) return null;
        const fresh = await issueRecoveryCodes(user.id);
        await record('recovery_codes_generated', user.id, origin, `${fresh.length} codes, with a first passkey`);
        return fresh;
      }),

    /** A factor went: with none left (no app, no passkey), the recovery codes stand in for nothing and go. */
    async factorRemoved(userId: number): Promise<void> {
      if ((await totp.find(userId)) === null && (await passkeyCount(userId)) === 0) await codes.deleteAll(userId);
    },

    /** Ten new recovery codes in place of the old (the caller has checked the password). */
    newRecoveryCodes: (user: User, origin: Origin): Promise<string[]> =>
      atomically(async () => {
        const fresh = await issueRecoveryCodes(user.id);
        await record('recovery_codes_generated', user.id, origin, `${fresh.length} codes`);
        await notices.factorChanged(user, 'recovery-codes-generated', origin, fresh.length);
        return fresh;
      }),

    /**
     * True when `input` is a code of the user's app for the current or previous step, and no code
     * for that step or a later one was accepted before (the step is then used up, atomically).
     */
    async checkCode(userId: number, input: string): Promise<boolean> {
      const app = await totp.find(userId);
      const code = normalizeCode(input);
      if (!app || code === null) return false;
      let secret: Buffer;
      try {
        secret = stored.open(app.secretSealed, `user ${userId}`);
      } catch {
        return false; // sealed under a secret no longer configured: the app must be set up again
      }
      const step = await matchingStep(secret, code, app.lastUsedStep);
      return step !== null && (await totp.useStep(userId, step));
    },

    /** Uses a recovery code up, and says how many are left; `wrong-code` when it is not a live one of the user's. */
    async useRecoveryCode(
      user: User,
      input: string,
      origin: Origin,
    ): Promise<Result<{ left: number; few: boolean }, 'wrong-code'>> {
      const code = normalizeRecoveryCode(input);
      if (code === null) return refused('wrong-code');
      return atomically(async () => {
        if (!(await codes.use(user.id, hashRecoveryCode(code)))) return refused('wrong-code');
        const left = await codes.count(user.id);
        await record('recovery_code_used', user.id, origin, `${left} left`);
        await notices.factorChanged(user, 'recovery-code-used', origin, left);
        return done({ left, few: left <= FEW_RECOVERY_CODES });
      });
    },

    /** A wrong code at login: recorded, and after a few the owner is told someone has the password. */
    async failed(user: User, origin: Origin, what: string, warnOwner: boolean): Promise<void> {
      await record('second_factor_failed', user.id, origin, what);
      if (warnOwner) await notices.secondFactorFailing(user, origin);
    },

    /**
     * The admin command's reset, for an owner who lost every factor: the app and the recovery codes
     * go (`alsoRemoved` names what else went, the passkeys), audited, and the owner is told.
     */
    async reset(
      user: User,
      origin: Origin,
      alsoRemoved: () => Promise<number>,
    ): Promise<{ totp: boolean; codes: number; passkeys: number }> {
      return atomically(async () => {
        const hadApp = await totp.disable(user.id);
        const hadCodes = await codes.deleteAll(user.id);
        const passkeys = await alsoRemoved();
        const removed = [hadApp ? 'authenticator app' : null, `${hadCodes} recovery code(s)`, `${passkeys} passkey(s)`];
        await record('mfa_reset', user.id, origin, removed.filter((part) => part !== null).join(', '));
        if (hadApp || hadCodes > 0 || passkeys > 0) await notices.factorChanged(user, 'mfa-reset', origin);
        return { totp: hadApp, codes: hadCodes, passkeys };
      });
    },
  };
}

export type SecondFactor = ReturnType<typeof secondFactor>;
