import { createHash, randomBytes } from 'node:crypto';

export interface LinkToken {
  /** Goes into the link, once; never stored. */
  readonly raw: string;
  /** What the database keeps. */
  readonly hash: Buffer;
}

// 32 random bytes in base64url, without padding: 43 characters.
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export const hashToken = (raw: string): Buffer => createHash('sha256').update(raw, 'utf8').digest();

export function newLinkToken(): LinkToken {
  const raw = randomBytes(32).toString('base64url');
  return { raw, hash: hashToken(raw) };
}

/** The hash of a token from a link, or null when it cannot be one of ours (cut short, tampered, junk). */
export function hashOfLinkToken(raw: unknown): Buffer | null {
  return typeof raw === 'string' && TOKEN_SHAPE.test(raw) ? hashToken(raw) : null;
}

/** Identifies a browser for "new sign-in" notices without storing its address or user agent. */
export const browserFingerprint = (ip: string | null, userAgent: string | null): Buffer =>
  createHash('sha256')
    .update(`${ip ?? ''}\u0000${userAgent ?? ''}`, 'utf8')
    .digest();
