import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
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

type GithubConfig = Extract<IdentityProviderConfig, { kind: 'github' }>;

const tokenAnswer = z.union([
  z.object({ access_token: z.string().min(1).max(2000) }),
  z.object({ error: z.string().max(200) }),
]);
// The numeric id is the identity (a login name can be changed and taken by someone else).
const userAnswer = z.object({
  id: z.number().int().positive(),
  login: z.string().max(100),
  name: z.string().max(1000).nullable().optional(),
});
const emailsAnswer = z
  .array(z.object({ email: z.string().max(1000), primary: z.boolean(), verified: z.boolean() }))
  .max(1000);

const TIMEOUT_MS = 10_000;

const sameText = (a: string, b: string): boolean => {
  const left = createHash('sha256').update(a).digest();
  const right = createHash('sha256').update(b).digest();
  return timingSafeEqual(left, right);
};

/**
 * GitHub (OAuth 2, not OpenID Connect): the authorization code flow with state and PKCE S256,
 * then its REST API for the user (the numeric id is the subject) and their addresses (only a
 * primary, verified one is vouched for). GitHub's URLs are configurable for GitHub Enterprise
 * and for tests. The access token is used for those two requests and dropped.
 */
export function githubClient(config: GithubConfig): IdentityProvider {
  const api = async (path: string, token: string): Promise<unknown> => {
    const answer = await fetch(`${config.apiUrl}${path}`, {
      headers: {
        accept: 'application/vnd.github+json',
        authorization: `Bearer ${token}`,
        'user-agent': 'Gatehouse',
        'x-github-api-version': '2022-11-28',
      },
      redirect: 'error',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    if (!answer.ok) throw new ProviderFailed(`GitHub API ${path} answered ${answer.status}`, 'api_status');
    return answer.json();
  };

  return {
    name: config.name,
    label: config.label,
    // GitHub has no prompt=login or auth_time: it cannot confirm that someone signed in just now.
    canReauthenticate: false,
    formPost: false,

    async authorizationUrl(secrets: FlowSecrets, redirectUri: string): Promise<URL> {
      const url = new URL(`${config.webUrl}/login/oauth/authorize`);
      url.search = new URLSearchParams({
        client_id: config.clientId,
        redirect_uri: redirectUri,
        scope: 'read:user user:email',
        state: secrets.state,
        code_challenge: createHash('sha256').update(secrets.codeVerifier).digest('base64url'),
        code_challenge_method: 'S256',
        allow_signup: 'true',
      }).toString();
      return url;
    },

    async finish(callbackUrl: URL, secrets: FlowSecrets): Promise<ProviderProfile> {
      const params = callbackUrl.searchParams;
      const error = params.get('error');
      if (error !== null) throw new ProviderDeclined(error.slice(0, 100));
      const state = params.get('state');
      const code = params.get('code');
      if (state === null || !sameText(state, secrets.state)) throw new ProviderFailed('state mismatch', 'state');
      if (code === null || code.length > 500) throw new ProviderFailed('no code', 'no_code');
      try {
        const redirectUri = `${callbackUrl.origin}${callbackUrl.pathname}`;
        const tokenResponse = await fetch(`${config.webUrl}/login/oauth/access_token`, {
          method: 'POST',
          headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            client_id: config.clientId,
            client_secret: config.clientSecret,
            code,
            redirect_uri: redirectUri,
            code_verifier: secrets.codeVerifier,
          }).toString(),
          redirect: 'error',
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
        if (!tokenResponse.ok) throw new ProviderFailed(`token answered ${tokenResponse.status}`, 'token_status');
        const token = tokenAnswer.parse(await tokenResponse.json());
        if ('error' in token) throw new ProviderFailed(`token refused: ${token.error}`, 'token_refused');
        const user = userAnswer.parse(await api('/user', token.access_token));
        const emails = emailsAnswer.parse(await api('/user/emails', token.access_token));
        // The primary address; GitHub vouches for it only once its owner has verified it.
        const primary = emails.find((entry) => entry.primary);
        const email = usableEmail(primary?.email);
        return {
          issuer: config.webUrl,
          subject: String(user.id),
          email,
          emailVerified: email !== null && primary?.verified === true,
          name: usableName(user.name) ?? usableName(user.login),
          authTime: null,
        };
      } catch (caught) {
        if (caught instanceof ProviderFailed) throw caught;
        throw new ProviderFailed(caught instanceof Error ? caught.message.slice(0, 200) : 'failed', 'github');
      }
    },
  };
}
