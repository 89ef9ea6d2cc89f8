import type { CookieOptions, RequestHandler, Response } from 'express';
import { keyring, signedJson } from '../crypto/keyring.js';

export interface Flash {
  readonly kind: 'info' | 'success' | 'error';
  readonly text: string;
}

const KINDS = new Set<Flash['kind']>(['info', 'success', 'error']);
/** A cookie holds about 4 KB: a few short messages at most. */
const MAX_MESSAGES = 4;
const MAX_TEXT = 600;

interface FlashStore {
  /** Messages that came in with the request, not yet shown. */
  incoming: Flash[];
  /** Messages for the next page (the ones that came in and were not shown, and new ones). */
  outgoing: Flash[] | null;
  /** Sets the cookie that carries `messages` to the next page. */
  write(messages: Flash[]): void;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      flashStore?: FlashStore;
      takeFlashes?: () => Flash[];
    }
  }
}

/**
 * Flash messages in a signed cookie, as Django's cookie message storage keeps
 * them: read and cleared by the next page that renders, so a visitor who is
 * not logged in costs no session row for a "You must be logged in" or a
 * goodbye. The cookie is HttpOnly and signed (a keyring of its own over the
 * session secrets), so a message cannot be forged to look like the site's.
 */
export function flashMessages(secrets: readonly string[], secure: boolean): RequestHandler {
  const codec = signedJson(keyring(secrets, 'flash cookie v1'));
  const name = secure ? '__Host-gatehouse.flash' : 'gatehouse.flash';
  const options: CookieOptions = { httpOnly: true, secure, sameSite: 'lax', path: '/' };

  const read = (raw: unknown): Flash[] => {
    const parsed = codec.open(raw);
    if (!Array.isArray(parsed)) return [];
    return parsed
      .filter(
        (item): item is Flash =>
          typeof item === 'object' &&
          item !== null &&
          KINDS.has((item as Flash).kind) &&
          typeof (item as Flash).text === 'string',
      )
      .slice(0, MAX_MESSAGES);
  };

  return (req, res, next) => {
    const store: FlashStore = {
      incoming: read((req.cookies as Record<string, unknown> | undefined)?.[name]),
      outgoing: null,
      write(messages) {
        res.cookie(name, codec.seal(messages), options);
      },
    };
    res.locals.flashStore = store;
    res.locals.takeFlashes = (): Flash[] => {
      const shown = [...(store.outgoing ?? store.incoming)];
      if (store.outgoing !== null || store.incoming.length > 0) res.clearCookie(name, options);
      store.incoming = [];
      store.outgoing = null;
      return shown;
    };
    next();
  };
}

/** Keeps a message for the next page that renders (after a redirect, usually). */
export function flash(res: Response, kind: Flash['kind'], text: string): void {
  const store = res.locals.flashStore;
  if (!store) throw new Error('flash() needs the flashMessages middleware');
  const messages = [...(store.outgoing ?? store.incoming), { kind, text: text.slice(0, MAX_TEXT) }].slice(
    -MAX_MESSAGES,
  );
  store.outgoing = messages;
  store.write(messages);
}
