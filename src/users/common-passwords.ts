import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The ~49,000 most common passwords from breach corpora, as zxcvbn-ts ships
 * them (lower-case), compared case-insensitively: "Password1" is as guessable
 * as "password1".
 *
 * Kept as a sorted table of 64-bit hashes (the first 8 bytes of SHA-256 of
 * each password), 390 KB, that the build writes to dist/common-passwords.bin
 * (scripts/build.mjs): a Set of the strings and the module holding them would
 * keep about 6 MB in every process. With 49,000 entries in 2^64, a password
 * not on the list is taken for one about once in 10^14 tries.
 */
const TABLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/common-passwords.bin');

/** The first 8 bytes of SHA-256 of the text: the key the table is sorted by. */
const commonPasswordKey = (text: string): bigint =>
  createHash('sha256').update(text, 'utf8').digest().readBigUInt64BE(0);

let table: Buffer | undefined;

function loadTable(): Buffer {
  try {
    return readFileSync(TABLE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    // Run from src/ without a build (tests of a single file, say): the same table, made here.
    const { dictionary } = createRequire(import.meta.url)('@zxcvbn-ts/language-common') as {
      dictionary: Record<string, string[]>;
    };
    return commonPasswordTable(dictionary['passwords-common'] ?? []);
  }
}

/** The table for a list of passwords: their keys, sorted, 8 bytes each (big-endian). */
export function commonPasswordTable(passwords: readonly string[]): Buffer {
  const keys = [...new Set(passwords.map((password) => commonPasswordKey(password.toLowerCase())))].sort((a, b) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  const buffer = Buffer.alloc(keys.length * 8);
  keys.forEach((key, i) => buffer.writeBigUInt64BE(key, i * 8));
  return buffer;
}

export function isCommonPassword(password: string): boolean {
  table ??= loadTable();
  const key = commonPasswordKey(password.toLowerCase());
  let low = 0;
  let high = table.length / 8 - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const found = table.readBigUInt64BE(middle * 8);
    if (found === key) return true;
    if (found < key) low = middle + 1;
    else high = middle - 1;
  }
  return false;
}
