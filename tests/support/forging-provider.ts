import { createHash, createHmac, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { APP_URL } from './identity-provider.js';

/**
 * An OpenID Connect provider that forges: it answers every sign-in at once (no pages) with an ID
 * token whose claims or signature the test chooses, so the app's checks of audience, expiry,
 * nonce and signature algorithm meet a token that fails exactly one of them. Discovery, JWKS,
 * the authorization and token endpoints are what a provider serves; PKCE is checked as a real
 * provider checks it. With `forge` unset it is an honest provider.
 */

/** How the next ID tokens are wrong: one field each. */
export interface Forgery {
  /** The audience: another client's id. */
  aud?: string;
  /** Seconds from now the token expires (negative: already expired). */
  expiresIn?: number;
  /** A nonce other than the one the app sent. */
  nonce?: string;
  /** The issuer inside the token. */
  iss?: string;
  /** The signature: HS256 under the client secret, alg "none", or a key the JWKS does not hold. */
  signature?: 'hs256' | 'none' | 'unknown-key';
}

export interface ForgingProvider {
  readonly issuer: string;
  /** The person every sign-in is: their subject and address. */
  person: { sub: string; email: string };
  forge: Forgery;
  env(name: string): Record<string, string>;
  close(): Promise<void>;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

export async function startForgingProvider(name: string): Promise<ForgingProvider> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = `forged-${randomBytes(4).toString('hex')}`;
  const clientSecret = randomBytes(24).toString('base64url');
  const redirectUri = `${APP_URL}/login/oidc/${name}/callback`;
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const kid = 'k1';
  const codes = new Map<string, { nonce: string; challenge: string }>();

  const idToken = (nonce: string, forge: Forgery, person: { sub: string; email: string }): string => {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: forge.iss ?? issuer,
      sub: person.sub,
      aud: forge.aud ?? clientId,
      iat: now,
      exp: now + (forge.expiresIn ?? 300),
      nonce: forge.nonce ?? nonce,
      email: person.email,
      email_verified: true,
      name: 'Forged Person',
    };
    if (forge.signature === 'none') return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
    if (forge.signature === 'hs256') {
      const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
      return `${input}.${createHmac('sha256', clientSecret).update(input).digest('base64url')}`;
    }
    const input = `${b64({ alg: 'RS256', typ: 'JWT', kid })}.${b64(claims)}`;
    const key = forge.signature === 'unknown-key' ? stranger : privateKey;
    return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
  };

  const readBody = async (req: http.IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  };
  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const provider: ForgingProvider = {
    issuer,
    person: { sub: 'nobody', email: 'nobody@example.test' },
    forge: {},
    env: (configured) => {
      const key = configured.toUpperCase().replace(/-/g, '_');
      return {
        [`OIDC_${key}_ISSUER`]: issuer,
        [`OIDC_${key}_CLIENT_ID`]: clientId,
        [`OIDC_${key}_CLIENT_SECRET`]: clientSecret,
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  server.on('request', (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', issuer);
      if (url.pathname === '/.well-known/openid-configuration') {
        return json(res, 200, {
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
          code_challenge_methods_supported: ['S256'],
          token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
          authorization_response_iss_parameter_supported: true,
        });
      }
      if (url.pathname === '/jwks') {
        return json(res, 200, { keys: [{ ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' }] });
      }
      if (url.pathname === '/authorize') {
        const q = url.searchParams;
        if (q.get('client_id') !== clientId || q.get('redirect_uri') !== redirectUri) return json(res, 400, {});
        const code = randomBytes(12).toString('hex');
        codes.set(code, { nonce: q.get('nonce') ?? '', challenge: q.get('code_challenge') ?? '' });
        const back = new URL(redirectUri);
        back.searchParams.set('code', code);
        back.searchParams.set('state', q.get('state') ?? '');
        back.searchParams.set('iss', issuer);
        res.writeHead(302, { location: back.href });
        return res.end();
      }
      if (url.pathname === '/token' && req.method === 'POST') {
        const body = await readBody(req);
        const basic = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString();
        const [basicId, basicSecret] = basic.split(':').map((part) => decodeURIComponent(part));
        const id = body.get('client_id') ?? basicId;
        const secret = body.get('client_secret') ?? basicSecret;
        const pending = codes.get(body.get('code') ?? '');
        codes.delete(body.get('code') ?? '');
        const verifier = body.get('code_verifier') ?? '';
        if (
          !pending ||
          id !== clientId ||
          secret !== clientSecret ||
          createHash('sha256').update(verifier).digest('base64url') !== pending.challenge
        ) {
          return json(res, 400, { error: 'invalid_grant' });
        }
        return json(res, 200, {
          access_token: randomBytes(16).toString('hex'),
          token_type: 'Bearer',
          expires_in: 300,
          id_token: idToken(pending.nonce, provider.forge, provider.person),
        });
      }
      json(res, 404, {});
    })().catch(() => json(res, 500, {}));
  });
  return provider;
}
