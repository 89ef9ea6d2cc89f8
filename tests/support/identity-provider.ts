import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { interactionPolicy } from 'oidc-provider';
import request from 'supertest';
import type { Response } from 'supertest';
import { expect } from 'vitest';
import type { Browser } from './browser.js';
import { unescapeHtml } from './pages.js';

/**
 * Real identity providers for the tests: panva's oidc-provider (OpenID-certified) with one
 * confidential client, on 127.0.0.1, and a small stand-in for GitHub's three endpoints
 * (authorize, access_token, and the API's /user and /user/emails). The people who can sign in
 * at either are set by the test, each with the address (and its verification) the provider shows.
 */

/** Where the test app says it is (its default PUBLIC_URL): the callbacks are registered under it. */
export const APP_URL = 'http://localhost:3000';

export interface PersonAtProvider {
  email?: string;
  email_verified?: boolean;
  name?: string;
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const closeServer = (server: http.Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

export interface TestOidcProvider {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The people by subject (`sub`): who may sign in, and what the provider says of them. */
  readonly people: Map<string, PersonAtProvider>;
  /** The environment that configures the app with this provider as `name`. */
  env(name: string): Record<string, string>;
  close(): Promise<void>;
}

/** oidc-provider on 127.0.0.1 with a client whose redirect URIs are `appUrl/login/oidc/NAME/callback` for `names`. */
export async function startOidcProvider(
  names: readonly string[],
  appUrl = APP_URL,
  {
    ignoresReauthentication = false,
  }: {
    /** A lax provider: `prompt=login` and `max_age` never make it ask again (its old sign-in is answered). */
    ignoresReauthentication?: boolean;
  } = {},
): Promise<TestOidcProvider> {
  const server = http.createServer();
  const issuer = await listen(server);
  const people = new Map<string, PersonAtProvider>();
  const clientId = `gatehouse-${randomBytes(4).toString('hex')}`;
  const clientSecret = randomBytes(24).toString('base64url');
  const policy = interactionPolicy.base();
  if (ignoresReauthentication) {
    const login = policy.get('login');
    login?.checks.remove('login_prompt');
    login?.checks.remove('max_age');
  }
  const provider = new Provider(issuer, {
    interactions: { policy },
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: names.map((name) => `${appUrl}/login/oidc/${name}/callback`),
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    findAccount: (_ctx, sub) => {
      const person = people.get(sub);
      if (!person) return undefined;
      return { accountId: sub, claims: () => ({ sub, ...person }) };
    },
    // Keep its own logging quiet; the tests read what reaches Gatehouse.
    renderError: (ctx, out) => {
      ctx.type = 'json';
      ctx.body = out;
    },
  });
  provider.on('server_error', () => {});
  server.on('request', provider.callback());
  return {
    issuer,
    clientId,
    clientSecret,
    people,
    env: (name) => {
      const key = name.toUpperCase().replace(/-/g, '_');
      return {
        [`OIDC_${key}_ISSUER`]: issuer,
        [`OIDC_${key}_CLIENT_ID`]: clientId,
        [`OIDC_${key}_CLIENT_SECRET`]: clientSecret,
      };
    },
    close: () => closeServer(server),
  };
}

// ---- GitHub's stand-in -------------------------------------------------------------------

export interface GithubPerson {
  id: number;
  login: string;
  name: string | null;
  emails: Array<{ email: string; primary: boolean; verified: boolean }>;
}

export interface TestGithub {
  readonly webUrl: string;
  readonly apiUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The people by login. */
  readonly people: Map<string, GithubPerson>;
  env(): Record<string, string>;
  close(): Promise<void>;
}

interface PendingCode {
  login: string;
  redirectUri: string;
  challenge: string;
}

const form = (html: string) => html;

/**
 * GitHub's three endpoints, as the app uses them: the authorize page (a form: who signs in, or
 * Cancel), the token exchange (client secret, code once, redirect URI and PKCE checked), and the
 * API's /user and /user/emails for the token.
 */
export async function startGithubStandIn(): Promise<TestGithub> {
  const server = http.createServer();
  const base = await listen(server);
  const people = new Map<string, GithubPerson>();
  const clientId = `Iv1.${randomBytes(8).toString('hex')}`;
  const clientSecret = randomBytes(20).toString('hex');
  const codes = new Map<string, PendingCode>();
  const tokens = new Map<string, string>();
  const redirectUri = `${APP_URL}/login/oidc/github/callback`;

  const readBody = async (req: http.IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  };
  const send = (res: http.ServerResponse, status: number, body: unknown, type = 'application/json') => {
    res.writeHead(status, { 'content-type': type });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };

  server.on('request', (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', base);
      if (req.method === 'GET' && url.pathname === '/login/oauth/authorize') {
        const q = url.searchParams;
        if (q.get('client_id') !== clientId || q.get('redirect_uri') !== redirectUri)
          return send(res, 400, 'bad client');
        if (q.get('code_challenge_method') !== 'S256') return send(res, 400, 'PKCE S256 required');
        const hidden = ['state', 'code_challenge', 'redirect_uri']
          .map((key) => `<input type="hidden" name="${key}" value="${q.get(key) ?? ''}">`)
          .join('');
        return send(
          res,
          200,
          form(
            `<form method="post" action="/session">${hidden}<input name="login"><button>Sign in</button></form>` +
              `<form method="post" action="/session">${hidden}<input type="hidden" name="cancel" value="1"><button>Cancel</button></form>`,
          ),
          'text/html',
        );
      }
      if (req.method === 'POST' && url.pathname === '/session') {
        const body = await readBody(req);
        const target = new URL(body.get('redirect_uri') ?? '');
        target.searchParams.set('state', body.get('state') ?? '');
        if (body.get('cancel') === '1') {
          target.searchParams.set('error', 'access_denied');
        } else {
          const code = randomBytes(10).toString('hex');
          codes.set(code, {
            login: body.get('login') ?? '',
            redirectUri: body.get('redirect_uri') ?? '',
            challenge: body.get('code_challenge') ?? '',
          });
          target.searchParams.set('code', code);
        }
        res.writeHead(302, { location: target.href });
        return res.end();
      }
      if (req.method === 'POST' && url.pathname === '/login/oauth/access_token') {
        const body = await readBody(req);
        const code = codes.get(body.get('code') ?? '');
        codes.delete(body.get('code') ?? '');
        const verifier = body.get('code_verifier') ?? '';
        const ok =
          code !== undefined &&
          body.get('client_id') === clientId &&
          body.get('client_secret') === clientSecret &&
          body.get('redirect_uri') === code.redirectUri &&
          createHash('sha256').update(verifier).digest('base64url') === code.challenge;
        if (!ok) return send(res, 200, { error: 'bad_verification_code' });
        const token = `gho_${randomBytes(16).toString('hex')}`;
        tokens.set(token, code.login);
        return send(res, 200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
      }
      const login = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
      const person = login === undefined ? undefined : people.get(login);
      if (req.method === 'GET' && url.pathname.startsWith('/api/') && !person)
        return send(res, 401, { message: 'Bad credentials' });
      if (req.method === 'GET' && url.pathname === '/api/user' && person) {
        return send(res, 200, { id: person.id, login: person.login, name: person.name });
      }
      if (req.method === 'GET' && url.pathname === '/api/user/emails' && person) return send(res, 200, person.emails);
      send(res, 404, { message: 'Not Found' });
    })().catch(() => send(res, 500, 'stand-in failed'));
  });

  return {
    webUrl: base,
    apiUrl: `${base}/api`,
    clientId,
    clientSecret,
    people,
    env: () => ({
      GITHUB_CLIENT_ID: clientId,
      GITHUB_CLIENT_SECRET: clientSecret,
      GITHUB_URL: base,
      GITHUB_API_URL: `${base}/api`,
    }),
    close: () => closeServer(server),
  };
}

// ---- driving a sign-in -------------------------------------------------------------------

/** The hidden inputs of the first form in `html` with `action`'s path, and the action itself. */
function formOn(
  html: string,
  pick: (inner: string) => boolean,
): { action: string; fields: Record<string, string> } | null {
  for (const match of html.matchAll(/<form\b[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/g)) {
    const action = (match[1] ?? '').replace(/&amp;/g, '&');
    if (!pick(match[2] ?? '')) continue;
    const fields: Record<string, string> = {};
    for (const input of (match[2] ?? '').matchAll(/<input\b[^>]*type="hidden"[^>]*>/g)) {
      const name = /name="([^"]+)"/.exec(input[0])?.[1];
      const value = /value="([^"]*)"/.exec(input[0])?.[1] ?? '';
      if (name)
        fields[name] = value
          .replace(/&amp;/g, '&')
          .replace(/&#x2F;/g, '/')
          .replace(/&#x3D;/g, '=');
    }
    return { action, fields };
  }
  return null;
}

export interface AtProvider {
  /** Who signs in there (an oidc-provider subject, or a GitHub login); absent: press Cancel. */
  readonly as?: string;
  /** A provider session to keep between sign-ins (an agent made by providerBrowser()). */
  readonly session?: ReturnType<typeof request.agent>;
}

/** A browser at the provider: its own cookie jar there. */
export const providerBrowser = (url: string) => request.agent(new URL(url).origin);

/**
 * Follows the provider's pages from its authorization URL, signing in as `as` (or pressing
 * Cancel), until the provider sends the browser back to the app; that URL.
 */
export async function throughProvider(authorizationUrl: string, { as, session }: AtProvider): Promise<URL> {
  let url = new URL(authorizationUrl);
  const agent = session ?? providerBrowser(authorizationUrl);
  for (let step = 0; step < 12; step += 1) {
    if (url.origin === APP_URL) return url;
    const page: Response = await agent.get(url.pathname + url.search);
    if (page.status >= 300 && page.status < 400) {
      url = new URL(page.headers['location'] ?? '', url);
      continue;
    }
    // response_mode=form_post: a page whose form posts the answer to the app (its script would submit it).
    const posted = formOn(page.text, () => true);
    if (posted && new URL(posted.action, url).origin !== url.origin) {
      const back = new URL(posted.action);
      for (const [key, value] of Object.entries(posted.fields)) back.searchParams.set(key, unescapeHtml(value));
      back.hash = FORM_POST;
      return back;
    }
    expect(page.status, page.text.slice(0, 300)).toBe(200);
    let answer: Response;
    const abort = /href="([^"]*\/abort)"/.exec(page.text)?.[1];
    if (as === undefined && abort) {
      answer = await agent.get(new URL(abort, url).pathname);
    } else if (as === undefined) {
      const cancel = formOn(page.text, (inner) => /name="cancel"/.test(inner));
      if (!cancel) throw new Error('no Cancel on the provider page');
      answer = await agent.post(cancel.action).type('form').send(cancel.fields);
    } else {
      const target = formOn(page.text, (inner) => !/name="cancel"/.test(inner));
      if (!target) throw new Error(`no form on the provider page: ${page.text.slice(0, 300)}`);
      const isLogin = /name="login"/.test(page.text);
      answer = await agent
        .post(new URL(target.action, url).pathname)
        .type('form')
        .send({ ...target.fields, ...(isLogin ? { login: as, password: 'any password' } : {}) });
    }
    expect([302, 303]).toContain(answer.status);
    url = new URL(answer.headers['location'] ?? '', url);
  }
  throw new Error('the provider never sent the browser back');
}

/** The hash throughProvider marks an answer with when the provider would POST it (form_post). */
const FORM_POST = '#form_post';

/**
 * The browser takes the provider's answer to the app: a GET of the callback, or, for a form_post
 * answer, the POST the provider's page makes from its own site (no CSRF token, cross-site
 * headers), and then wherever that sends it. The app's last answer.
 */
export async function deliverAnswer(browser: Browser, callback: URL, providerOrigin: string): Promise<Response> {
  if (callback.hash !== FORM_POST) return browser.get(onApp(callback));
  const posted = await browser.agent
    .post(callback.pathname)
    .set('Origin', providerOrigin)
    .set('Sec-Fetch-Site', 'cross-site')
    .type('form')
    .send(Object.fromEntries(callback.searchParams));
  expect(posted.status, posted.text.slice(0, 300)).toBe(303);
  return browser.get(posted.headers['location'] ?? '');
}

/** The path and query of a URL on the app, as a browser requests it. */
export const onApp = (url: URL): string => url.pathname + url.search;

/**
 * Starts a sign-in with `name` from `browser` (the button on `page`, `fields` such as next),
 * goes through the provider as `at`, and returns the app's answer to the callback.
 */
export async function signInWithProvider(
  browser: Browser,
  name: string,
  at: AtProvider,
  { page = '/login', fields = {} }: { page?: string; fields?: Record<string, string> } = {},
): Promise<{ answer: Response; callback: URL }> {
  const started = await browser.submit(page, `/login/oidc/${name}`, fields);
  expect(started.status, started.text.slice(0, 300)).toBe(303);
  const callback = await throughProvider(started.headers['location'] ?? '', at);
  const providerOrigin = new URL(started.headers['location'] ?? '').origin;
  return { answer: await deliverAnswer(browser, callback, providerOrigin), callback };
}
