import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

// Mail payloads hold raw one-time tokens (reset and verification links): anyone who can read
// the table, a backup or a replica must not be able to use them. They are sealed with
// AES-256-GCM under a key derived from the session secrets, which already live only in the
// app's environment. A separate HKDF "info" keeps this key apart from the cookie-signing use.
const INFO = 'gatehouse mail-outbox payload v1';
const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

class PayloadUnreadableError extends Error {}

export interface PayloadSealer {
  /** Encrypts with the first secret; `context` (recipient, template) is authenticated, not stored. */
  seal(plaintext: string, context: string): Buffer;
  /** Tries every secret, so a message queued before a rotation still goes out. */
  open(sealed: Buffer, context: string): string;
}

export function payloadSealer(secrets: readonly string[]): PayloadSealer {
  if (secrets.length === 0) throw new Error('payloadSealer needs at least one secret');
  const keys = secrets.map((secret) => Buffer.from(hkdfSync('sha256', secret, '', INFO, 32)));
  const firstKey = keys[0] as Buffer;
  return {
    seal(plaintext, context) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', firstKey, iv);
      // Binding the row's recipient and template means a payload copied onto another row will not open.
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]);
    },
    open(sealed, context) {
      if (sealed.length < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== VERSION) {
        throw new PayloadUnreadableError('mail payload is not in a known format');
      }
      const iv = sealed.subarray(1, 1 + IV_BYTES);
      const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
      const body = sealed.subarray(1 + IV_BYTES + TAG_BYTES);
      for (const key of keys) {
        try {
          const decipher = createDecipheriv('aes-256-gcm', key, iv);
          decipher.setAAD(Buffer.from(context, 'utf8'));
          decipher.setAuthTag(tag);
          return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
        } catch {
          // Wrong key (or tampered data): try the next secret.
        }
      }
      throw new PayloadUnreadableError('mail payload opens with none of the session secrets (rotated out?)');
    },
  };
}
