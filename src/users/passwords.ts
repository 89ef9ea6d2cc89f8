import { availableParallelism } from 'node:os';
import bcrypt from 'bcrypt';
import pLimit from 'p-limit';

/** bcrypt reads at most 72 bytes; longer passwords are refused, never silently cut. */
export const MAX_PASSWORD_BYTES = 72;
export const MIN_PASSWORD_CHARACTERS = 8;

export const passwordBytes = (password: string): number => Buffer.byteLength(password, 'utf8');
/** Characters as a person counts them (code points), so "é" or an emoji is one. */
export const passwordCharacters = (password: string): number => [...password].length;

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** A null hash (an account without a password) costs a dummy comparison and never matches. */
  verify(password: string, hash: string | null): Promise<boolean>;
  /** Spends one comparison's worth of time for a login whose email is unknown. */
  verifyDummy(password: string): Promise<void>;
}

export function createPasswordHasher(cost: number, concurrency = availableParallelism()): PasswordHasher {
  // bcrypt runs on libuv's thread pool, off the event loop; at most one hash per
  // core at a time, so a burst of logins queues instead of starving page views.
  const oneCore = pLimit(concurrency);
  // Made once, at the configured cost, so an unknown email costs what a wrong password costs.
  let dummyHash: Promise<string> | undefined;
  const compare = (password: string, hash: string) => oneCore(() => bcrypt.compare(password, hash));
  async function verifyDummy(password: string): Promise<void> {
    dummyHash ??= oneCore(() => bcrypt.hash('gatehouse dummy password', cost));
    await compare(password, await dummyHash);
  }
  return {
    hash: (password) => oneCore(() => bcrypt.hash(password, cost)),
    async verify(password, hash) {
      if (hash !== null) return compare(password, hash);
      await verifyDummy(password);
      return false;
    },
    verifyDummy,
  };
}
