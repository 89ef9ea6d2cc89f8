import { createHash, randomBytes } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { type AuthEventsRepo, recorder } from '../audit/auth-events-repo.js';
import { type Caller, networkOf } from '../flows/caller.js';
import type { EnforceLimit } from '../flows/limits.js';
import type { Throttle } from '../login/throttle.js';
import { messages } from '../messages.js';
import { type Result, done, refused } from '../flows/result.js';
import type { Origin } from '../users/origin.js';
import type { User, UsersRepo } from '../users/users-repo.js';
import type { Passkey, PasskeysRepo } from './passkeys-repo.js';
import type { RelyingParty } from './relying-party.js';
import type { UsedChallengesRepo } from './used-challenges-repo.js';

/** A ceremony's challenge is good this long (WebAuthn's own timeout is the same). */
export const CHALLENGE_MS = 5 * 60 * 1000;
/** 32 random bytes: the WebAuthn recommendation is at least 16. */
const CHALLENGE_BYTES = 32;

/** The mail this feature sends; the mail flows implement it (wired in app.ts). */
export interface PasskeyNotices {
  factorChanged(user: User, change: 'passkey-added' | 'passkey-removed', origin: Origin): Promise<void>;
}

export interface PasskeysDeps {
  readonly passkeys: PasskeysRepo;
  readonly used: UsedChallengesRepo;
  readonly users: UsersRepo;
  readonly events: AuthEventsRepo;
  readonly notices: PasskeyNotices;
  readonly rp: RelyingParty;
  /** A sign-in answer is counted before it is checked, like a password (a forged or replayed answer is a guess). */
  readonly throttle: Pick<Throttle, 'signedAnswerAttempt' | 'signedAnswerSucceeded'>;
  readonly enforce: EnforceLimit;
}

/** Why an answer from the browser was not accepted (said to nobody but the audit trail). */
export type RefusedBecause =
  'unknown credential' | 'challenge' | 'not verified' | 'user handle' | 'not this user' | 'already registered';

// @simplewebauthn/server and what it brings (ASN.1, CBOR, COSE) are a fifth of a serving
// process's memory: loaded with the first ceremony, not at start-up.
let library: Promise<typeof import('@simplewebauthn/server')> | undefined;
const webauthn = () => (library ??= import('@simplewebauthn/server'));

const newChallenge = () => randomBytes(CHALLENGE_BYTES).toString('base64url');
const challengeHash = (challenge: string) => createHash('sha256').update(challenge, 'utf8').digest();

/**
 * Passkeys, with @simplewebauthn/server: registration (a logged-in user adds one, resident key
 * and user verification required, no attestation, their own excluded) and authentication (a
 * full login on its own, or the second step after a password). Every answer is checked for its
 * signature, challenge, origin, RP id and user verification, and a login's user handle must be
 * its credential owner's. No HTTP here: the caller keeps the challenges.
 */
export function passkeyCeremonies({ passkeys, used, users, events, notices, rp, throttle, enforce }: PasskeysDeps) {
  const record = recorder(events);

  const handleOf = async (userId: number): Promise<Buffer> => {
    const handle = await users.webauthnHandle(userId, randomBytes(32));
    if (!handle) throw new Error('no such user');
    return handle;
  };

  /** Checks a sign-in answer against the passkey it names (see authenticate). */
  async function verifyAnswer(
    response: AuthenticationResponseJSON,
    held: (challenge: string) => { expiresAt: number } | null,
    forUser: number | null,
  ): Promise<{ ok: true; user: User } | { ok: false; reason: RefusedBecause; userId: number | null }> {
    const found = await passkeys.findByCredentialId(response.id);
    if (!found) return { ok: false, reason: 'unknown credential', userId: null };
    const { passkey, owner: user, ownerHandle } = found;
    const refuse = (reason: RefusedBecause) => ({ ok: false as const, reason, userId: passkey.userId });
    if (forUser !== null && passkey.userId !== forUser) return refuse('not this user');
    if (!user) return refuse('unknown credential');
    // The authenticator says whose passkey it is: it must be the owner's handle, not just any.
    if (ownerHandle === null || response.response.userHandle !== ownerHandle.toString('base64url')) {
      return refuse('user handle');
    }

    let challengeOk = false;
    let verified;
    try {
      verified = await (
        await webauthn()
      ).verifyAuthenticationResponse({
        response,
        expectedChallenge: async (challenge) => {
          const pending = held(challenge);
          challengeOk =
            pending !== null && (await used.markUsed(challengeHash(challenge), new Date(pending.expiresAt)));
          return challengeOk;
        },
        expectedOrigin: rp.origin,
        expectedRPID: rp.id,
        credential: {
          id: passkey.credentialId,
          publicKey: new Uint8Array(passkey.publicKey),
          counter: passkey.signCount,
          transports: passkey.transports,
        },
        requireUserVerification: true,
      });
    } catch {
      return refuse(challengeOk ? 'not verified' : 'challenge');
    }
    if (!verified.verified || !verified.authenticationInfo.userVerified) return refuse('not verified');
    await passkeys.recordUse(passkey.id, verified.authenticationInfo.newCounter);
    return { ok: true, user };
  }

  return {
    rp,

    list: (userId: number): Promise<Passkey[]> => passkeys.listFor(userId),
    count: (userId: number): Promise<number> => passkeys.countFor(userId),

    /** The options for adding a passkey, and the challenge the caller keeps (in the session). */
    async registrationOptions(user: User): Promise<PublicKeyCredentialCreationOptionsJSON> {
      const existing = await passkeys.listFor(user.id);
      return (await webauthn()).generateRegistrationOptions({
        rpName: rp.name,
        rpID: rp.id,
        userName: user.email,
        userDisplayName: user.name,
        userID: new Uint8Array(await handleOf(user.id)),
        challenge: newChallenge(),
        timeout: CHALLENGE_MS,
        attestationType: 'none',
        excludeCredentials: existing.map((key) => ({ id: key.credentialId, transports: key.transports })),
        authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
      });
    },

    /**
     * Verifies a new passkey's answer against a challenge the caller issued (`isExpected` says
     * whether it did, and uses it up) and stores it under `name`.
     */
    async register(
      user: User,
      response: RegistrationResponseJSON,
      isExpected: (challenge: string) => boolean,
      name: string,
      origin: Origin,
    ): Promise<Result<object, RefusedBecause>> {
      let verified;
      try {
        verified = await (
          await webauthn()
        ).verifyRegistrationResponse({
          response,
          expectedChallenge: isExpected,
          expectedOrigin: rp.origin,
          expectedRPID: rp.id,
          requireUserVerification: true,
        });
      } catch {
        return { ok: false, reason: 'not verified' };
      }
      if (!verified.verified) return { ok: false, reason: 'not verified' };
      const info = verified.registrationInfo;
      const passkey = await passkeys.add({
        userId: user.id,
        credentialId: info.credential.id,
        publicKey: Buffer.from(info.credential.publicKey),
        signCount: info.credential.counter,
        transports: info.credential.transports ?? [],
        deviceType: info.credentialDeviceType,
        backedUp: info.credentialBackedUp,
        aaguid: info.aaguid,
        name,
      });
      if (!passkey) return { ok: false, reason: 'already registered' };
      await record('passkey_added', user.id, origin, name);
      await notices.factorChanged(user, 'passkey-added', origin);
      return { ok: true };
    },

    /** Removes one of the user's passkeys (the caller has checked the password); its name, or `not-found` (another user's id too). */
    async remove(user: User, id: string, origin: Origin): Promise<Result<{ name: string }, 'not-found'>> {
      const name = await passkeys.remove(user.id, id);
      if (name === null) return refused('not-found');
      await record('passkey_removed', user.id, origin, name);
      await notices.factorChanged(user, 'passkey-removed', origin);
      return done({ name });
    },

    /**
     * The options for signing in: for anyone (the browser offers the site's passkeys, autofill
     * included), or for one user's passkeys (the second step after their password).
     */
    async authenticationOptions(forUser: number | null): Promise<PublicKeyCredentialRequestOptionsJSON> {
      const allow = forUser === null ? [] : await passkeys.listFor(forUser);
      return (await webauthn()).generateAuthenticationOptions({
        rpID: rp.id,
        challenge: newChallenge(),
        timeout: CHALLENGE_MS,
        userVerification: 'required',
        allowCredentials: allow.map((key) => ({ id: key.credentialId, transports: key.transports })),
      });
    },

    /**
     * Verifies a sign-in answer, counted first against the network's failures and checks (a 429
     * when over). `held` says whether this browser holds the answer's challenge (and takes it
     * out); the challenge is then recorded as answered, so the same answer sent again is refused.
     * With `forUser`, the passkey must be that user's. A refusal is recorded with its reason (never
     * the answer's content); a success gives the network its point back. The user it signs in, or why not.
     */
    async authenticate(
      response: AuthenticationResponseJSON,
      held: (challenge: string) => { expiresAt: number } | null,
      forUser: number | null,
      caller: Caller,
    ): Promise<Result<{ user: User }, RefusedBecause>> {
      const ip = networkOf(caller);
      await enforce(await throttle.signedAnswerAttempt(ip), caller.origin, messages.limits.failedSignIns);
      const result = await verifyAnswer(response, held, forUser);
      if (!result.ok) {
        await record('passkey_failed', result.userId, caller.origin, result.reason);
        return refused(result.reason);
      }
      await throttle.signedAnswerSucceeded(ip);
      return done({ user: result.user });
    },

    /** A refused answer, for the audit trail (never its content). */
    failed: (userId: number | null, origin: Origin, reason: RefusedBecause) =>
      record('passkey_failed', userId, origin, reason),

    /** Forgets answered challenges that could no longer be answered (housekeeping). */
    sweepUsedChallenges: (): Promise<number> => used.deleteExpired(),
  };
}

export type PasskeyCeremonies = ReturnType<typeof passkeyCeremonies>;
