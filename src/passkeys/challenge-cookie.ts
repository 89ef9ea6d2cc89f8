import type { CookieOptions, Request, Response } from 'express';
import { keyring, signedJson } from '../crypto/keyring.js';
import { CHALLENGE_MS } from './passkeys.js';
import { type PendingChallenge, addChallenge, takeChallenge } from './pending-challenges.js';

/**
 * The challenges of a browser's login ceremonies, kept in the browser: a signed, HttpOnly,
 * SameSite=Strict cookie that only the ceremony's own paths see, for five minutes. A visitor
 * who is not logged in so costs no session row. Each ceremony adds its own challenge, so a
 * new one (the button after the autofill request, another tab) does not overwrite one in
 * flight; a challenge is taken out when its answer arrives.
 */
export function challengeCookie(secrets: readonly string[], secure: boolean) {
  const codec = signedJson(keyring(secrets, 'webauthn challenge cookie v1'));
  // __Host- needs Path=/; __Secure- still makes the cookie https-only.
  const name = secure ? '__Secure-gatehouse.webauthn' : 'gatehouse.webauthn';
  const options: CookieOptions = { httpOnly: true, secure, sameSite: 'strict', path: '/login' };

  const read = (req: Request): PendingChallenge[] => {
    const parsed = codec.open((req.cookies as Record<string, unknown> | undefined)?.[name]);
    if (!Array.isArray(parsed)) return [];
    return parsed.filter(
      (item): item is PendingChallenge =>
        typeof item === 'object' &&
        item !== null &&
        typeof (item as PendingChallenge).challenge === 'string' &&
        typeof (item as PendingChallenge).expiresAt === 'number',
    );
  };

  const write = (res: Response, list: PendingChallenge[]) => {
    if (list.length === 0) {
      res.clearCookie(name, options);
      return;
    }
    res.cookie(name, codec.seal(list), { ...options, maxAge: CHALLENGE_MS });
  };

  return {
    /** Keeps a new ceremony's challenge (with the ones still going). */
    add(req: Request, res: Response, challenge: string): void {
      write(res, addChallenge(read(req), challenge));
    },
    /** Takes a challenge out when this browser holds it and it is still good; null otherwise. */
    take(req: Request, res: Response, challenge: string): PendingChallenge | null {
      const { found, rest } = takeChallenge(read(req), challenge);
      if (found) write(res, rest);
      return found;
    },
  };
}

export type ChallengeCookie = ReturnType<typeof challengeCookie>;
