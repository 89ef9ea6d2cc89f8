import { randomBytes } from 'node:crypto';
import type { CookieOptions, Request, Response } from 'express';
import { keyring, signedJson } from '../crypto/keyring.js';
import { CODE_MINUTES } from './login-codes.js';

/** A browser's request for a sign-in code, as its cookie holds it. */
export interface CodeRequest {
  /** 32 random bytes (base64url): the code is bound to the browser that holds it; only its hash is stored. */
  readonly nonce: string;
  /** The address asked for (shown on the page where the code is typed). */
  readonly email: string;
  /** Where to go once logged in (a safeNext() path) and whether to remember the login. */
  readonly next: string;
  readonly remember: boolean;
  /** When the request runs out (ms since the epoch): as the code does. */
  readonly expiresAt: number;
}

/**
 * The request in a signed, HttpOnly cookie that only /login/code sees, for as long as the code
 * lives: a visitor asking for a code costs no session row, and the code works only in this browser.
 */
export function codeRequestCookie(secrets: readonly string[], secure: boolean) {
  const codec = signedJson(keyring(secrets, 'login code request cookie v1'));
  // __Host- needs Path=/; __Secure- still makes the cookie https-only.
  const name = secure ? '__Secure-gatehouse.code' : 'gatehouse.code';
  const options: CookieOptions = { httpOnly: true, secure, sameSite: 'lax', path: '/login/code' };
  const lifetimeMs = CODE_MINUTES * 60_000;

  return {
    /** A new request for `email`, not yet given to the browser (keep does that, once the code is asked for). */
    create(email: string, next: string, remember: boolean): CodeRequest {
      return {
        nonce: randomBytes(32).toString('base64url'),
        email,
        next,
        remember,
        expiresAt: Date.now() + lifetimeMs,
      };
    },
    /** The browser holds `request` (any earlier one of this browser is replaced). */
    keep(res: Response, request: CodeRequest): void {
      res.cookie(name, codec.seal(request), { ...options, maxAge: lifetimeMs });
    },
    /** This browser's request, while it is good; null otherwise. */
    read(req: Request): CodeRequest | null {
      const value = codec.open((req.cookies as Record<string, unknown> | undefined)?.[name]);
      if (typeof value !== 'object' || value === null) return null;
      const request = value as Partial<CodeRequest>;
      const valid =
        typeof request.nonce === 'string' &&
        typeof request.email === 'string' &&
        typeof request.next === 'string' &&
        typeof request.remember === 'boolean' &&
        typeof request.expiresAt === 'number' &&
        request.expiresAt > Date.now();
      return valid ? (request as CodeRequest) : null;
    },
    drop(res: Response): void {
      res.clearCookie(name, options);
    },
  };
}

export type CodeRequestCookie = ReturnType<typeof codeRequestCookie>;
