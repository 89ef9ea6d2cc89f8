import * as client from 'openid-client';
import type { IdentityProviderConfig } from '../config.js';
import {
  type FlowSecrets,
  type IdentityProvider,
  ProviderDeclined,
  ProviderFailed,
  type ProviderProfile,
  usableEmail,
  usableName,
} from './provider-profile.js';

type OidcConfig = Extract<IdentityProviderConfig, { kind: 'oidc' }>;

const SCOPE = 'openid email profile';

/**
 * An OpenID Connect provider through openid-client (OpenID-certified): discovery from the issuer
 * (once, retried after a failure), the authorization code flow with state, nonce and PKCE S256,
 * and the callback's checks: `iss` in the response (RFC 9207) when the provider sends or promises
 * it, state, then the ID token's signature, algorithm, issuer (Microsoft's `common`: the `iss`
 * of the user's own tenant, `tid`), audience, expiry and nonce. The tokens go no further than
 * this function: only the identity's claims are kept.
 */
export function oidcProviderClient(config: OidcConfig): IdentityProvider {
  const issuer = new URL(config.issuer);
  // Outside production an http issuer on this machine is allowed (config.ts refuses it elsewhere).
  const insecure = issuer.protocol === 'http:';
  let discovered: Promise<client.Configuration> | null = null;
  // Apple sends the address only to a form_post answer: a cross-site POST to the callback.
  const formPost = config.preset === 'apple';

  function configuration(): Promise<client.Configuration> {
    discovered ??= client
      .discovery(issuer, config.clientId, config.clientSecret, undefined, {
        // The ID token's signature is checked against the provider's published keys too. The
        // spec lets a client skip it for a token fetched straight from the token endpoint over
        // TLS (openid-client's default); we do not rely on that: a token signed by any other key
        // is refused (identity-tokens.test.ts).
        execute: [client.enableNonRepudiationChecks, ...(insecure ? [client.allowInsecureRequests] : [])],
        timeout: 10,
      })
      .catch((error: unknown) => {
        discovered = null;
        throw new ProviderFailed(`discovery failed: ${errorText(error)}`, 'discovery');
      });
    return discovered;
  }

  return {
    name: config.name,
    label: config.label,
    canReauthenticate: true,
    formPost,

    async authorizationUrl(secrets: FlowSecrets, redirectUri: string): Promise<URL> {
      const settings = await configuration();
      return client.buildAuthorizationUrl(settings, {
        redirect_uri: redirectUri,
        response_type: 'code',
        scope: SCOPE,
        state: secrets.state,
        nonce: secrets.nonce,
        code_challenge: await client.calculatePKCECodeChallenge(secrets.codeVerifier),
        code_challenge_method: 'S256',
        ...(secrets.reauthenticate ? { prompt: 'login', max_age: '0' } : {}),
        ...(formPost ? { response_mode: 'form_post' } : {}),
      });
    },

    async finish(callbackUrl: URL, secrets: FlowSecrets): Promise<ProviderProfile> {
      const error = callbackUrl.searchParams.get('error');
      if (error !== null) throw new ProviderDeclined(error.slice(0, 100));
      const settings = await configuration();
      let claims: client.IDToken | undefined;
      // Some providers keep the address out of the ID token (OIDC Core 5.4): then it is asked of userinfo, for the same `sub`.
      let userinfo: client.UserInfoResponse | null = null;
      try {
        const tokens = await client.authorizationCodeGrant(settings, callbackUrl, {
          pkceCodeVerifier: secrets.codeVerifier,
          expectedState: secrets.state,
          expectedNonce: secrets.nonce,
          idTokenExpected: true,
          ...(secrets.reauthenticate ? { maxAge: 0 } : {}),
        });
        claims = tokens.claims();
        if (claims && claims['email'] === undefined && settings.serverMetadata().userinfo_endpoint) {
          userinfo = await client.fetchUserInfo(settings, tokens.access_token, claims.sub);
        }
      } catch (caught) {
        throw new ProviderFailed(errorText(caught), codeOf(caught));
      }
      if (!claims) throw new ProviderFailed('no ID token', 'no_id_token');
      const source: Record<string, unknown> = userinfo ?? claims;
      const email = usableEmail(source['email']);
      // Apple writes it as a string.
      const verified = source['email_verified'] === true || source['email_verified'] === 'true';
      return {
        issuer: claims.iss,
        subject: claims.sub,
        email,
        emailVerified: email !== null && verified,
        name: usableName(source['name'] ?? claims['name']) ?? usableName(claims['preferred_username']),
        authTime: typeof claims.auth_time === 'number' ? claims.auth_time : null,
      };
    },
  };
}

/** What went wrong, for the log: the library's message and code, never a token or a secret. */
function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 300);
  return 'unknown error';
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code.slice(0, 60) : 'rejected';
}
