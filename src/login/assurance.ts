/**
 * What each way in proves, and what must follow it: the one place that decides whether a login
 * is whole (django-allauth's stages ask the same of each stage; here it is one policy over all).
 */

/** What one step of a login proved. */
export type Proof =
  | 'password'
  | 'password reset'
  | 'email code'
  | 'identity provider'
  | 'passkey'
  | 'authenticator app'
  | 'recovery code';

/** The steps that may follow a first factor, each owned by the feature whose factor it checks. */
export type FollowUp = 'authenticator-app' | 'passkey' | 'recovery-code';

/** The factors an account has besides its first. */
export interface AccountFactors {
  readonly app: boolean;
  readonly passkeys: boolean;
  readonly recoveryCodes: boolean;
}

export type Assessment = { readonly whole: true } | { readonly whole: false; readonly followUps: readonly FollowUp[] };

/** A passkey that verified its user (we require user verification) is two factors in one: the device and the person. */
const WHOLE_ON_ITS_OWN: ReadonlySet<Proof> = new Set<Proof>(['passkey']);
/** What counts as the second factor after a first one. */
const SECOND_FACTORS: ReadonlySet<Proof> = new Set<Proof>(['authenticator app', 'recovery code', 'passkey']);

/**
 * Whether what has been proved so far (oldest first) makes a whole login for an account with
 * `factors`, and if not, which steps may follow. Every way in (a password, a reset link, a code by
 * email, an identity provider) is a first factor: for an account with an authenticator app
 * or a passkey it is never enough on its own.
 */
export function assess(proved: readonly Proof[], factors: AccountFactors): Assessment {
  if (proved.some((proof) => WHOLE_ON_ITS_OWN.has(proof))) return { whole: true };
  if (!factors.app && !factors.passkeys) return { whole: true };
  if (proved.length >= 2 && proved.slice(1).some((proof) => SECOND_FACTORS.has(proof))) return { whole: true };
  const followUps: FollowUp[] = [];
  if (factors.app) followUps.push('authenticator-app');
  if (factors.passkeys) followUps.push('passkey');
  if (factors.recoveryCodes) followUps.push('recovery-code');
  return { whole: false, followUps };
}
