import { randomBytes } from 'node:crypto';
import { NodeCryptoPlugin } from '@otplib/plugin-crypto-node';
import { ScureBase32Plugin, generateURI, verify } from 'otplib';

// RFC 6238 as authenticator apps do it: HMAC-SHA-1, 6 digits, 30-second steps.
const PERIOD = 30;
const DIGITS = 6;
/** 20 random bytes (160 bits), what RFC 4226 recommends and every app reads. */
const SECRET_BYTES = 20;

const crypto = new NodeCryptoPlugin();
const base32 = new ScureBase32Plugin();

export const newTotpSecret = (): Buffer => randomBytes(SECRET_BYTES);

/** The key as an app shows it and a person types it: base32, in groups of four. */
export const readableKey = (secret: Uint8Array): string =>
  (base32.encode(secret, { padding: false }).match(/.{1,4}/g) ?? []).join(' ');

/** The otpauth:// URI an app reads from the QR code: issuer and label (the email), SHA-1, 6 digits, 30 s. */
export const otpauthUri = (secret: Uint8Array, label: string, issuer: string): string =>
  generateURI({ issuer, label, secret: base32.encode(secret, { padding: false }), digits: DIGITS, period: PERIOD });

/** The QR code of the URI as an inline image (an SVG data: URL): no request leaves the page. */
export async function qrCodeImage(uri: string): Promise<string> {
  // Loaded with the first set-up page, not at start-up: most processes never draw a QR code.
  const { default: QRCode } = await import('qrcode');
  const svg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return `data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}`;
}

/** A code as typed: digits only, spaces allowed between them; anything else is no code. */
export const normalizeCode = (input: string): string | null => {
  const digits = input.replace(/[\s-]/g, '');
  return /^\d{6}$/.test(digits) ? digits : null;
};

/**
 * The time step `code` is the code of, when it is the current step's or the previous one's
 * (a code typed as the step turns still counts) and that step is after `afterStep` (a code is
 * accepted once); else null. Compared in constant time by otplib over node:crypto.
 */
export async function matchingStep(secret: Uint8Array, code: string, afterStep: number): Promise<number | null> {
  try {
    const result = await verify({
      secret,
      token: code,
      crypto,
      base32,
      digits: DIGITS,
      period: PERIOD,
      epochTolerance: [PERIOD, 0],
      ...(afterStep > 0 ? { afterTimeStep: afterStep } : {}),
    });
    return result.valid && 'timeStep' in result ? result.timeStep : null;
  } catch {
    // A malformed code, or a last-used step ahead of this clock (another instance's clock ran fast).
    return null;
  }
}
