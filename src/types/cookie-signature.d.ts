// cookie-signature (the signing express-session's cookies use) ships no types.
declare module 'cookie-signature' {
  /** `value` and its HMAC-SHA256 (base64, unpadded): `value.signature`. */
  export function sign(value: string, secret: string | Buffer): string;
  /** The value of `signed` when its signature is `secret`'s, else false. */
  export function unsign(signed: string, secret: string | Buffer): string | false;
}
