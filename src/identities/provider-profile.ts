import { z } from 'zod';

/** Who a provider says signed in, as Gatehouse keeps it: checked and shaped, never a token. */
export interface ProviderProfile {
  /** The identity's issuer: the ID token's `iss` (for Microsoft, the user's own tenant), or GitHub's URL. */
  readonly issuer: string;
  /** The identity's subject at that issuer: `sub`, or GitHub's numeric user id. Never the email. */
  readonly subject: string;
  /** The address the provider gave, lower-cased; null when it gave none (or one we cannot use). */
  readonly email: string | null;
  /** The provider vouches for the address (email_verified true; GitHub: a verified primary address). */
  readonly emailVerified: boolean;
  /** A name to start the account with; null when the provider gave none. */
  readonly name: string | null;
  /** When the person last signed in at the provider (seconds since the epoch), when it says. */
  readonly authTime: number | null;
}

/** What a browser's flow holds for the provider's answer to be checked against. */
export interface FlowSecrets {
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
  /** Ask the provider to sign the person in again (prompt=login, max_age=0): "confirm it's you". */
  readonly reauthenticate: boolean;
}

/** A provider's answer that is not a sign-in: the person pressed Cancel, or the provider refused. */
export class ProviderDeclined extends Error {}

/** The provider could not be reached, or its answer failed a check (state, iss, nonce, signature…). */
export class ProviderFailed extends Error {
  constructor(
    message: string,
    /** A short code for the log and the audit trail (never a token). */
    readonly reason: string,
  ) {
    super(message);
  }
}

/** One configured provider, whichever protocol it speaks. */
export interface IdentityProvider {
  readonly name: string;
  readonly label: string;
  /** It can be asked to sign the person in again, and says when they did (OpenID Connect; not GitHub). */
  readonly canReauthenticate: boolean;
  /** It answers with a cross-site POST to the callback (`response_mode=form_post`: Apple), not a redirect. */
  readonly formPost: boolean;
  /** Where to send the browser; `redirectUri` is PUBLIC_URL + the callback's path, exactly. */
  authorizationUrl(secrets: FlowSecrets, redirectUri: string): Promise<URL>;
  /** The provider's answer (the callback's URL, PUBLIC_URL-based, with its query), checked; tokens are dropped here. */
  finish(callbackUrl: URL, secrets: FlowSecrets): Promise<ProviderProfile>;
}

const emailShape = z.email().max(254);

/** An address a provider gave, lower-cased, or null when it is not one we could store. */
export function usableEmail(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const parsed = emailShape.safeParse(value.trim());
  return parsed.success ? parsed.data.toLowerCase() : null;
}

/** A name to start an account with: printable, at most 100 characters; null when there is none. */
export function usableName(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const name = [...value.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').trim()].slice(0, 100).join('');
  return name === '' ? null : name;
}
