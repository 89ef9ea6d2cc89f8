import { randomBytes } from 'node:crypto';

/**
 * Random values for ids and tokens (session ids, visitor values), from the CSPRNG, drawn from a
 * pool filled 3 KiB at a time (as crypto.randomUUID does) rather than a call into the CSPRNG
 * per value. Each value's bytes are handed out once: zeroed once used, so nothing can hand
 * them out again.
 */
const POOL_BYTES = 3072;
let pool = Buffer.alloc(0);
let taken = POOL_BYTES;

/** `bytes` random bytes (at most 3 KiB) in base64url. */
export function randomId(bytes: number): string {
  if (bytes > POOL_BYTES) throw new Error(`randomId gives at most ${POOL_BYTES} bytes`);
  if (taken + bytes > pool.length) {
    pool = randomBytes(POOL_BYTES);
    taken = 0;
  }
  const id = pool.subarray(taken, taken + bytes).toString('base64url');
  pool.fill(0, taken, taken + bytes);
  taken += bytes;
  return id;
}
