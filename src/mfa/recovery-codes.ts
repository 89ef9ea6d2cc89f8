import { createHash, randomBytes } from 'node:crypto';

export const RECOVERY_CODES = 10;
/** At or below this many left, the user is offered new ones. */
export const FEW_RECOVERY_CODES = 3;

// Crockford's base32: no i, l, o or u, so a code read off paper cannot be mistyped into another.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
/** 24 characters of 5 bits: 120 random bits, above the 112 from which ASVS 6.5.2 lets a plain hash store them. */
const LENGTH = 24;

/** Ten new codes, as shown to the user: six groups of four, "7k2m-…". */
export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODES }, () => {
    const bytes = randomBytes(LENGTH);
    const code = [...bytes].map((byte) => ALPHABET[byte & 31]).join('');
    return (code.match(/.{4}/g) ?? []).join('-');
  });
}

/**
 * A code as typed, in the form its hash was made from: lower case, without spaces or dashes,
 * with the letters people confuse with digits read as the digits. Null when it cannot be one.
 */
export function normalizeRecoveryCode(input: string): string | null {
  const code = input
    .toLowerCase()
    .replace(/[\s-]/g, '')
    .replace(/[io]/g, (c) => (c === 'o' ? '0' : '1'))
    .replace(/l/g, '1');
  return code.length === LENGTH && [...code].every((c) => ALPHABET.includes(c)) ? code : null;
}

/** What is stored: the SHA-256 of the normalised code. */
export const hashRecoveryCode = (normalized: string): Buffer => createHash('sha256').update(normalized).digest();
