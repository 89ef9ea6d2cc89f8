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
      if (given.length !== TAG_BYTES) return false;
      return keys.some((key) => timingSafeEqual(tagWith(key, data), given));
    },
  };
}
