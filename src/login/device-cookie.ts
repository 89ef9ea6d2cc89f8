import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import { keyring } from '../crypto/keyring.js';
import { accountKey } from './throttle.js';

/** Up to this many accounts per browser (a shared computer); the oldest entry goes first. */
const MAX_ENTRIES = 5;
const LIFETIME_MS = 180 * 24 * 60 * 60 * 1000;
const ENTRY = /^([A-Za-z0-9_-]{22})~([A-Za-z0-9_-]{22})$/;

export interface DeviceCookies {
  /**
   * The nonce of this browser's entry for the account named by `email`, when it holds one signed
   * under the account's current device key.
   */
  trusted(req: Request, email: string): Promise<string | null>;
  /** After a whole login (every step done): a fresh entry for the account (its old one replaced). */
  remember(req: Request, res: Response, email: string): Promise<void>;
}

/**
 * OWASP's device cookies: a browser that has completed a login to an account holds a signed
 * entry for it (a nonce and a MAC over the account key, the nonce and the account's device key:
 * no email in the cookie). Failed logins against an account from anywhere are capped, but a
 * browser with a valid entry is not held by that cap, so an attacker spread over many addresses
 * cannot lock the owner out. The entry is issued only once every step of a login is done (a
 * right password alone earns nothing), and the device key (`deviceKeyOf`, a column of the
 * account, null for no active account) changes with the password, so an entry earned before a
 * password change or reset is worth nothing after it.
 */
export function deviceCookies(
  secrets: readonly string[],
  secure: boolean,
  deviceKeyOf: (email: string) => Promise<string | null>,
): DeviceCookies {
  // v2: entries are signed over the account's device key too; a v1 entry verifies as nothing.
  const keys = keyring(secrets, 'device cookie v2');
  const name = secure ? '__Host-gatehouse.device' : 'gatehouse.device';
  const signed = (email: string, nonce: string, deviceKey: string) =>
    `${accountKey(email)}\u0000${nonce}\u0000${deviceKey}`;
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
  const find = (entries: Array<{ nonce: string; tag: string }>, email: string, deviceKey: string) =>
    entries.find(({ nonce, tag }) => keys.verify(signed(email, nonce, deviceKey), tag)) ?? null;

  return {
    async trusted(req, email) {
      const entries = entriesOf(req);
      if (entries.length === 0) return null; // no cookie: nothing to look up
      const deviceKey = await deviceKeyOf(email);
      return deviceKey === null ? null : (find(entries, email, deviceKey)?.nonce ?? null);
    },
    async remember(req, res, email) {
      const deviceKey = await deviceKeyOf(email);
      if (deviceKey === null) return;
      const entries = entriesOf(req);
      const old = find(entries, email, deviceKey);
      const nonce = randomBytes(16).toString('base64url');
      const kept = [
        `${nonce}~${keys.sign(signed(email, nonce, deviceKey))}`,
        ...entries.filter((entry) => entry.nonce !== old?.nonce).map((entry) => `${entry.nonce}~${entry.tag}`),
      ].slice(0, MAX_ENTRIES);
      res.cookie(name, kept.join('.'), {
        httpOnly: true,
        secure,
        sameSite: 'lax',
        path: '/',
        maxAge: LIFETIME_MS,
      });
    },
  };
}
