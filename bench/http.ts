/**
 * Driving Gatehouse over HTTP as a browser behind a TLS proxy would: every request carries the
 * proxy's headers (X-Forwarded-Proto: https, so the __Host- cookies, which are Secure, are set),
 * cookies are sent by hand, forms carry their _csrf field and an Origin of PUBLIC_URL's origin.
 * Setup only (never timed), plus autocannon with the same headers for the timed load.
 */
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import { PROXY_HEADERS } from './processes.js';

export const PUBLIC_URL = 'https://accounts.example.test';

/**
 * The environment of a production deployment behind a TLS proxy, as the bench runs Gatehouse; the
 * throttle's limits are raised as far as they go, since one address logs in thousands of times
 * and the throttle is not measured.
 */
export const deployedEnv = (bcryptCost: number): Record<string, string> => ({
  NODE_ENV: 'production',
  TRUST_PROXY: '1',
  SESSION_SECRET: randomBytes(36).toString('base64url'),
  PUBLIC_URL,
  MAIL_TRANSPORT: 'outbox',
  LOG_LEVEL: 'info',
  BCRYPT_COST: String(bcryptCost),
  LOGIN_FAILURES_PER_ACCOUNT: '1000000',
  LOGIN_FAILURES_PER_ACCOUNT_TOTAL: '1000000',
  LOGIN_FAILURES_PER_IP: '1000000',
  PASSWORD_CHECKS_PER_IP: '1000000',
  SIGNUPS_PER_IP: '1000000',
  MAIL_LINKS_PER_IP: '1000000',
  EMAIL_CHANGES_PER_USER: '1000000',
});
export const PASSWORD = 'bench: correct horse battery staple 42';
/** In production the cookies have the __Host- prefix. */
export const SID_COOKIE = '__Host-gatehouse.sid';
export const VISITOR_COOKIE = '__Host-gatehouse.visitor';
const USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0 gatehouse-bench';

/** The headers of every request: the proxy's, and a browser's user agent. */
export const BROWSER_HEADERS: Readonly<Record<string, string>> = { ...PROXY_HEADERS, 'user-agent': USER_AGENT };
/** And of every form post: the browser's Origin, which is the site's. */
export const FORM_HEADERS: Readonly<Record<string, string>> = {
  ...BROWSER_HEADERS,
  origin: new URL(PUBLIC_URL).origin,
  'content-type': 'application/x-www-form-urlencoded',
};

/** `name=value` of each cookie a response sets. */
export function cookiesSet(response: Response): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const header of response.headers.getSetCookie()) {
    const pair = header.split(';')[0] ?? '';
    const equals = pair.indexOf('=');
    if (equals > 0) cookies.set(pair.slice(0, equals), pair);
  }
  return cookies;
}

/** A rendered form: its _csrf field and the cookies it must come back with. */
export interface Form {
  /** `__Host-gatehouse.visitor=…`: the visitor value the token is an HMAC of */
  readonly cookie: string;
  readonly csrf: string;
}

/** GET a page with a form, as a new visitor (no cookies); it must answer 200 and set no session cookie. */
export async function formOn(base: string, page: string): Promise<Form> {
  const response = await fetch(`${base}${page}`, { headers: BROWSER_HEADERS, redirect: 'manual' });
  const html = await response.text();
  if (response.status !== 200) throw new Error(`GET ${page} answered ${response.status}`);
  const cookies = cookiesSet(response);
  if (cookies.has(SID_COOKIE)) throw new Error(`GET ${page} by a new visitor set a session cookie`);
  if (!cookies.has(VISITOR_COOKIE))
    throw new Error(`GET ${page} set no ${VISITOR_COOKIE} cookie (is X-Forwarded-Proto trusted?)`);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!csrf) throw new Error(`GET ${page}: no _csrf field in the form`);
  return { cookie: [...cookies.values()].join('; '), csrf };
}

export interface User {
  readonly email: string;
  /** `__Host-gatehouse.sid=…` of the session sign-up opened. */
  readonly cookie: string;
}

/** Signs a new user up through the form, and checks that its session shows the dashboard. */
export async function signUp(base: string, name: string): Promise<User> {
  const email = `bench-${randomBytes(4).toString('hex')}@example.com`;
  const form = await formOn(base, '/signup');
  const response = await fetch(`${base}/signup`, {
    method: 'POST',
    redirect: 'manual',
    headers: { ...FORM_HEADERS, cookie: form.cookie },
    body: new URLSearchParams({ name, email, password: PASSWORD, confirm: PASSWORD, website: '', _csrf: form.csrf }),
  });
  await response.text();
  const cookie = cookiesSet(response).get(SID_COOKIE);
  if (response.status !== 303 || !cookie) {
    throw new Error(`POST /signup answered ${response.status}${cookie ? '' : ' and set no session cookie'}`);
  }
  const home = await fetch(`${base}/`, { headers: { ...BROWSER_HEADERS, cookie }, redirect: 'manual' });
  await home.text();
  if (home.status !== 200) throw new Error(`GET / after sign-up answered ${home.status}`);
  return { email, cookie };
}

/** The body of a right-password login with `form`'s token. */
export const loginBody = (form: Form, email: string): string =>
  new URLSearchParams({ email, password: PASSWORD, _csrf: form.csrf, next: '/' }).toString();

/** One login through the form, to prove the timed ones will be 303s. */
export async function logInOnce(base: string, form: Form, email: string): Promise<void> {
  const response = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { ...FORM_HEADERS, cookie: form.cookie },
    body: loginBody(form, email),
  });
  await response.text();
  if (response.status !== 303 || !cookiesSet(response).has(SID_COOKIE)) {
    throw new Error(`POST /login answered ${response.status}`);
  }
}

// ---------------------------------------------------------------- timed load

export type Run = autocannon.Options & {
  /** The status every response should have; others are counted as unexpected. */
  readonly expect: number;
};

export type Result = autocannon.Result & { readonly unexpected: number };

/** Starts autocannon; `times` collects each response's latency (ms) where exact percentiles of few are needed. */
export function load({ expect, ...options }: Run, times?: number[]): { result: Promise<Result>; stop(): void } {
  let instance: autocannon.Instance | undefined;
  const result = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(options, (error: unknown, result: autocannon.Result) =>
      error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(result),
    );
    if (times) instance.on('response', (_client, _status, _bytes, responseTime: number) => times.push(responseTime));
  }).then((result): Result => {
    const expected = result.statusCodeStats?.[`${expect}` as `${number}`]?.count ?? 0;
    return { ...result, unexpected: result.requests.total - expected + result.errors + result.timeouts };
  });
  return { result, stop: () => instance?.stop() };
}

export const perSecond = (result: autocannon.Result): number =>
  result.requests.total / Math.max(result.duration, 0.001);

export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};

export const percentile = (values: readonly number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
};

export const mean = (values: readonly number[]): number =>
  values.reduce((sum, value) => sum + value, 0) / Math.max(values.length, 1);
