import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/**
 * Message authentication for one purpose, with keys derived (HKDF-SHA256)
 * from the session secrets: the first secret signs, every one verifies, so a
 * secret can be rotated like the session cookie's. Each purpose has its own
 * keys, so a value signed for one use (a device cookie, a flash message) is
 * never accepted as another.
 */
export interface Keyring {
  /** A 128-bit tag over `data`, in base64url (22 characters). */
  sign(data: string): string;
  /** True when `tag` is a tag of `data` under any of the secrets; compared in constant time. */
  verify(data: string, tag: string): boolean;
}

const TAG_BYTES = 16;

export function keyring(secrets: readonly string[], purpose: string): Keyring {
  if (secrets.length === 0) throw new Error('a keyring needs at least one secret');
  const keys = secrets.map((secret) => Buffer.from(hkdfSync('sha256', secret, '', `gatehouse ${purpose}`, 32)));
  const tagWith = (key: Buffer, data: string) =>
    createHmac('sha256', key).update(data, 'utf8').digest().subarray(0, TAG_BYTES);
  return {
    sign: (data) => tagWith(keys[0] as Buffer, data).toString('base64url'),
    verify(data, tag) {
      const given = Buffer.from(tag, 'base64url');
      // Only the form sign() writes: the decoder skips stray characters and the last one's spare bits.
      if (given.length !== TAG_BYTES || given.toString('base64url') !== tag) return false;
      return keys.some((key) => timingSafeEqual(tagWith(key, data), given));
    },
  };
}

/** A JSON value carried in a cookie: base64url JSON, a dot, and its tag. */
export interface SignedJson {
  seal(value: unknown): string;
  /** The value, or undefined when the text is not one this keyring signed (or not JSON). */
  open(text: unknown): unknown;
}

export function signedJson(keys: Keyring): SignedJson {
  return {
    seal(value) {
      const body = Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
      return `${body}.${keys.sign(body)}`;
    },
    open(text) {
      if (typeof text !== 'string') return undefined;
      const dot = text.lastIndexOf('.');
      const body = text.slice(0, dot);
      if (dot < 1 || !keys.verify(body, text.slice(dot + 1))) return undefined;
      try {
        return JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as unknown;
      } catch {
        return undefined;
      }
    },
  };
}
