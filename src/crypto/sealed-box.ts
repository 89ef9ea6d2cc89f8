import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

// Secrets kept at rest (mail payloads with one-time links, authenticator-app secrets) are sealed
// with AES-256-GCM under keys derived (HKDF-SHA256) from the session secrets, which already live
// only in the app's environment: whoever reads the table, a backup or a replica cannot use them.
// Each use has its own HKDF "info", so no key serves two purposes.
const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SealedBoxError extends Error {}

export interface SealedBox {
  /** Encrypts with the first secret's key; `context` (what the value belongs to) is authenticated, not stored. */
  seal(plaintext: Buffer | string, context: string): Buffer;
  /** Tries every secret's key, so a value sealed before a rotation still opens. Throws SealedBoxError. */
  open(sealed: Buffer, context: string): Buffer;
}

/** A sealed box for one purpose: `info` names it (and must never change for data already stored). */
export function sealedBox(secrets: readonly string[], info: string): SealedBox {
  if (secrets.length === 0) throw new Error('a sealed box needs at least one secret');
  const keys = secrets.map((secret) => Buffer.from(hkdfSync('sha256', secret, '', info, 32)));
  const firstKey = keys[0] as Buffer;
  return {
    seal(plaintext, context) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', firstKey, iv);
      // Binding the context means a value copied onto another row (another user) will not open.
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]);
    },
    open(sealed, context) {
      if (sealed.length < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== VERSION) {
        throw new SealedBoxError('sealed value is not in a known format');
      }
      const iv = sealed.subarray(1, 1 + IV_BYTES);
      const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
      const body = sealed.subarray(1 + IV_BYTES + TAG_BYTES);
      for (const key of keys) {
        try {
          const decipher = createDecipheriv('aes-256-gcm', key, iv);
          decipher.setAAD(Buffer.from(context, 'utf8'));
          decipher.setAuthTag(tag);
          return Buffer.concat([decipher.update(body), decipher.final()]);
        } catch {
          // Wrong key (or tampered data): try the next secret.
        }
      }
      throw new SealedBoxError('sealed value opens with none of the session secrets (rotated out?)');
    },
  };
}
