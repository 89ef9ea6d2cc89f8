import type { CookieOptions, Request, Response } from 'express';
import { keyring, signedJson } from '../crypto/keyring.js';

/** A login ceremony's challenge and when it stops being good (ms since the epoch). */
export interface PendingChallenge {
  readonly challenge: string;
  readonly expiresAt: number;
}

/** A browser may have a few ceremonies going (an autofill request, a button, another tab). */
const MAX_CEREMONIES = 4;

/**
 * The challenges of a browser's login ceremonies, kept in the browser: a signed, HttpOnly,
 * SameSite=Strict cookie that only the ceremony's own paths see, for five minutes. A visitor
 * who is not logged in so costs no session row. Each ceremony adds its own challenge, so a
 * new one (the button after the autofill request, another tab) does not overwrite one in
 * flight; a challenge is taken out when its answer arrives.
 */
export function challengeCookie(secrets: readonly string[], secure: boolean, lifetimeMs: number) {
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
        typeof (item as PendingChallenge).expiresAt === 'number' &&
        (item as PendingChallenge).expiresAt > Date.now(),
    );
  };

  const write = (res: Response, list: PendingChallenge[]) => {
    if (list.length === 0) {
      res.clearCookie(name, options);
      return;
    }
    res.cookie(name, codec.seal(list), { ...options, maxAge: lifetimeMs });
  };

  return {
    /** Keeps a new ceremony's challenge (with the ones still going). */
    add(req: Request, res: Response, challenge: string): void {
      write(res, [...read(req), { challenge, expiresAt: Date.now() + lifetimeMs }].slice(-MAX_CEREMONIES));
    },
    /** Takes a challenge out when this browser holds it and it is still good; null otherwise. */
    take(req: Request, res: Response, challenge: string): PendingChallenge | null {
      const list = read(req);
      const found = list.find((item) => item.challenge === challenge) ?? null;
      if (found)
        write(
          res,
          list.filter((item) => item !== found),
        );
      return found;
    },
  };
}

export type ChallengeCookie = ReturnType<typeof challengeCookie>;
