import { createHmac } from 'node:crypto';
import { unescapeHtml } from './pages.js';

/**
 * RFC 6238 as a phone's authenticator app computes it, written out here (not the app's library)
 * so the tests check the app against the standard: HMAC-SHA-1, 6 digits, 30-second steps.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** The bytes of a base32 key as an app reads it: spaces and case do not matter. */
export function base32Decode(text: string): Buffer {
  const clean = text.replace(/[\s=]/g, '').toUpperCase();
  let bits = '';
  for (const char of clean) {
    const value = ALPHABET.indexOf(char);
    if (value < 0) throw new Error(`not base32: ${char}`);
    bits += value.toString(2).padStart(5, '0');
  }
  const bytes = bits.match(/.{8}/g) ?? [];
  return Buffer.from(bytes.map((byte) => Number.parseInt(byte, 2)));
}

export const stepAt = (ms = Date.now()): number => Math.floor(ms / 1000 / 30);

/** The code for one time step. */
export function totpCode(secret: Buffer, step: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const digest = createHmac('sha1', secret).update(counter).digest();
  const offset = (digest[digest.length - 1] ?? 0) & 0x0f;
  const value = (digest.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return value.toString().padStart(6, '0');
}

/** The key the enrolment page shows as text (groups of four), as a person would type it in. */
export function keyOnPage(html: string): string {
  const key = /<p class="secret-key" id="totp-key"><code>([^<]+)<\/code>/.exec(html)?.[1];
  if (!key) throw new Error('no key on the page');
  return unescapeHtml(key);
}

/**
 * Waits, when the current step ends within `marginMs`, for the next one: a code computed now
 * and checked a moment later must still be for the step the test means.
 */
export async function awayFromStepEdge(marginMs = 4000): Promise<void> {
  for (;;) {
    const intoStep = Date.now() % 30_000;
    if (30_000 - intoStep > marginMs) return;
    await new Promise((resolve) => setTimeout(resolve, 30_000 - intoStep + 50));
  }
}
