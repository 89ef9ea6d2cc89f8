import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import { keyring } from '../crypto/keyring.js';
import { accountKey } from './throttle.js';

/** Up to this many accounts per browser (a shared computer); the oldest entry goes first. */
const MAX_ENTRIES = 5;
const LIFETIME_MS = 180 * 24 * 60 * 60 * 1000;
const ENTRY = /^([A-Za-z0-9_-]{22})~([A-Za-z0-9_-]{22})$/;

export interface DeviceCookies {
  /** The nonce of this browser's entry for the account named by `email`, when it holds a valid one. */
  trusted(req: Request, email: string): string | null;
  /** After a successful login: a fresh entry for the account (its old one replaced). */
  remember(req: Request, res: Response, email: string): void;
}

/**
 * OWASP's device cookies: a browser that has logged in to an account holds a
 * signed entry for it (a nonce and a MAC over the account key and the nonce:
 * no email in the cookie). Failed logins against an account from anywhere are
 * capped, but a browser with a valid entry is not held by that cap, so an
 * attacker spread over many addresses cannot lock the owner out.
 */
export function deviceCookies(secrets: readonly string[], secure: boolean): DeviceCookies {
  const keys = keyring(secrets, 'device cookie v1');
  const name = secure ? '__Host-gatehouse.device' : 'gatehouse.device';
  const tagOf = (email: string, nonce: string) => keys.sign(`${accountKey(email)}\u0000${nonce}`);
  const entriesOf = (req: Request): Array<{ nonce: string; tag: string }> => {
    const raw: unknown = (req.cookies as Record<string, unknown> | undefined)?.[name];
    if (typeof raw !== 'string') return [];
    return raw
      .split('.')
      .slice(0, MAX_ENTRIES)
      .flatMap((entry) => {
        const match = ENTRY.exec(entry);
        return match?.[1] && match[2] ? [{ nonce: match[1], tag: match[2] }] : [];
      });
  };
  const find = (req: Request, email: string) =>
    entriesOf(req).find(({ nonce, tag }) => keys.verify(`${accountKey(email)}\u0000${nonce}`, tag)) ?? null;

  return {
    trusted: (req, email) => find(req, email)?.nonce ?? null,
    remember(req, res, email) {
      const old = find(req, email);
      const nonce = randomBytes(16).toString('base64url');
      const entries = [
        `${nonce}~${tagOf(email, nonce)}`,
        ...entriesOf(req)
          .filter((entry) => entry.nonce !== old?.nonce)
          .map((entry) => `${entry.nonce}~${entry.tag}`),
      ].slice(0, MAX_ENTRIES);
      res.cookie(name, entries.join('.'), {
        httpOnly: true,
        secure,
        sameSite: 'lax',
        path: '/',
        maxAge: LIFETIME_MS,
      });
    },
  };
}
