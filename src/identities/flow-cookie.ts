import type { CookieOptions, Request, Response } from 'express';
import * as client from 'openid-client';
import { z } from 'zod';
import { SealedBoxError, sealedBox } from '../crypto/sealed-box.js';
import type { FlowSecrets } from './provider-profile.js';

/** A browser has this long to come back from the provider. */
export const FLOW_MINUTES = 10;

/** What a sign-in at a provider is for: a login, connecting it to the signed-in account, or "confirm it's you". */
export type FlowPurpose = 'login' | 'connect' | 'confirm';

const flowShape = z.strictObject({
  provider: z.string().max(40),
  purpose: z.enum(['login', 'connect', 'confirm']),
  state: z.string().min(43).max(128),
  nonce: z.string().min(43).max(128),
  codeVerifier: z.string().min(43).max(128),
  reauthenticate: z.boolean(),
  /** The signed-in account the flow was started for (connect, confirm); null for a login. */
  userId: z.number().int().positive().nullable(),
  next: z.string().max(2048),
  remember: z.boolean(),
  startedAt: z.number().int(),
});

/** One browser's flow with one provider. */
export type Flow = z.infer<typeof flowShape> & FlowSecrets;

export interface NewFlow {
  readonly provider: string;
  readonly purpose: FlowPurpose;
  readonly userId: number | null;
  readonly next: string;
  readonly remember: boolean;
}

/**
 * The flow's state, nonce and PKCE verifier (each 32 random bytes) in an encrypted, HttpOnly
 * cookie that only /login/oidc/ sees: a visitor costs no session row, the provider's answer is
 * taken only in the browser that started the flow (a swapped or forged answer finds no match),
 * and it is read once: the callback drops it whatever the answer was.
 */
export function flowCookie(secrets: readonly string[], secure: boolean) {
  const box = sealedBox(secrets, 'gatehouse identity provider flow v1');
  const name = secure ? '__Secure-gatehouse.oidc' : 'gatehouse.oidc';
  const options: CookieOptions = { httpOnly: true, secure, sameSite: 'lax', path: '/login/oidc' };
  const lifetimeMs = FLOW_MINUTES * 60_000;

  return {
    /** A new flow (any earlier one of this browser is replaced). */
    start(res: Response, flow: NewFlow): Flow {
      const made: Flow = {
        ...flow,
        state: client.randomState(),
        nonce: client.randomNonce(),
        codeVerifier: client.randomPKCECodeVerifier(),
        reauthenticate: flow.purpose === 'confirm',
        startedAt: Date.now(),
      };
      res.cookie(name, box.seal(JSON.stringify(made), name).toString('base64url'), { ...options, maxAge: lifetimeMs });
      return made;
    },

    /** This browser's flow with `provider` while it is good, else null; either way the cookie is gone after. */
    take(req: Request, res: Response, provider: string): Flow | null {
      const raw = (req.cookies as Record<string, unknown> | undefined)?.[name];
      res.clearCookie(name, options);
      if (typeof raw !== 'string' || raw.length > 4096) return null;
      try {
        const parsed = flowShape.safeParse(JSON.parse(box.open(Buffer.from(raw, 'base64url'), name).toString('utf8')));
        if (!parsed.success) return null;
        const flow = parsed.data;
        const age = Date.now() - flow.startedAt;
        return flow.provider === provider && age >= 0 && age < lifetimeMs ? flow : null;
      } catch (error) {
        if (error instanceof SealedBoxError || error instanceof SyntaxError) return null;
        throw error;
      }
    },
  };
}

export type FlowCookie = ReturnType<typeof flowCookie>;
