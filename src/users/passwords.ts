import bcrypt from 'bcrypt';

/** bcrypt reads at most 72 bytes; longer passwords are refused, never silently cut. */
export const MAX_PASSWORD_BYTES = 72;
export const MIN_PASSWORD_CHARACTERS = 8;

export const passwordBytes = (password: string): number => Buffer.byteLength(password, 'utf8');
/** Characters as a person counts them (code points), so "é" or an emoji is one. */
export const passwordCharacters = (password: string): number => [...password].length;

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, hash: string): Promise<boolean>;
  /** Spends one comparison's worth of time for a login whose email is unknown. */
  verifyDummy(password: string): Promise<void>;
}

export function createPasswordHasher(cost: number): PasswordHasher {
  // Made once, at the configured cost, so an unknown email costs what a wrong password costs.
  let dummyHash: Promise<string> | undefined;
  return {
    hash: (password) => bcrypt.hash(password, cost),
    verify: (password, hash) => bcrypt.compare(password, hash),
    async verifyDummy(password) {
      dummyHash ??= bcrypt.hash('gatehouse dummy password', cost);
      await bcrypt.compare(password, await dummyHash);
    },
  };
}
