import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const intIn = (min: number, max: number) =>
  z.string().trim().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().int().min(min).max(max));

const postgresUrl = z
  .string()
  .trim()
  .refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'postgres:' || url.protocol === 'postgresql:';
    } catch {
      return false;
    }
  }, 'must be a postgres:// URL');

// TRUST_PROXY: a hop count ("1"), "true" (one hop), or names/addresses/CIDRs that
// express's "trust proxy" understands ("loopback", "10.0.0.0/8, uniquelocal").
const trustProxy = z
  .string()
  .trim()
  .transform((value): number | string | false => {
    if (value === '' || value === 'false' || value === '0') return false;
    if (value === 'true') return 1;
    if (/^\d+$/.test(value)) return Number(value);
    return value;
  })
  .refine(
    (value) => typeof value !== 'string' || /^[\w.:/, -]+$/.test(value),
    'must be a hop count or a list of addresses',
  );

// An SMTP server URL, e.g. smtp://user:pass@host:587 (STARTTLS) or smtps://host:465 (TLS from the start).
const smtpUrl = z
  .string()
  .trim()
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'smtp:' || url.protocol === 'smtps:') && url.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be an smtp:// or smtps:// URL');

// "address" or "Name <address>"; no line breaks, which would let a value inject mail headers.
const mailFrom = z
  .string()
  .trim()
  .regex(/^(?:[^<>\r\n]*<[^\s<>@]+@[^\s<>@]+>|[^\s<>@]+@[^\s<>@]+)$/, 'must be an address or "Name <address>"');

// The absolute base of links in mail: http(s), kept without a trailing slash so `${publicUrl}/path` is right.
const publicUrl = z
  .string()
  .trim()
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.search === '' && url.hash === '';
    } catch {
      return false;
    }
  }, 'must be an http:// or https:// URL without a query')
  .transform((value) => value.replace(/\/+$/, ''));

/** true/false (or 1/0), as the other switches are written. */
const flag = z
  .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
  .transform((value) => value === 'true' || value === '1');

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: intIn(0, 65535).default(3000),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  DATABASE_URL: postgresUrl.optional(),
  DATA_DIR: z.string().trim().min(1).default('./data'),
  SESSION_SECRET: z.string().optional(),
  BCRYPT_COST: intIn(4, 31).default(12),
  TRUST_PROXY: trustProxy.default(false),
  LOGIN_FAILURES_PER_ACCOUNT: intIn(1, 1_000_000).default(5),
  LOGIN_FAILURES_PER_ACCOUNT_TOTAL: intIn(1, 1_000_000).default(100),
  LOGIN_FAILURES_PER_IP: intIn(1, 1_000_000).default(100),
  PASSWORD_CHECKS_PER_IP: intIn(1, 1_000_000).default(300),
  SESSIONS_PER_USER: intIn(1, 100_000).default(100),
  PENDING_LOGINS_PER_USER: intIn(1, 100_000).default(20),
  MAIL_LINKS_PER_IP: intIn(1, 1_000_000).default(30),
  EMAIL_CHANGES_PER_USER: intIn(1, 1_000_000).default(5),
  ADMIN_SEARCHES_PER_HOUR: intIn(1, 1_000_000).default(600),
  ADMIN_ACTIONS_PER_HOUR: intIn(1, 1_000_000).default(60),
  AUTH_EVENTS_RETENTION_DAYS: intIn(1, 36_500).default(365),
  SIGNUPS_PER_IP: intIn(1, 1_000_000).default(10),
  SESSION_IDLE_MINUTES: intIn(1, 7 * 24 * 60).default(60),
  SESSION_MAX_DAYS: intIn(1, 365).default(30),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SMTP_URL: smtpUrl.optional(),
  MAIL_FROM: mailFrom.default('Gatehouse <no-reply@localhost>'),
  MAIL_TRANSPORT: z.enum(['smtp', 'outbox']).optional(),
  PUBLIC_URL: publicUrl.optional(),
  REQUIRE_VERIFIED_EMAIL: flag.default(false),
  LOGIN_BY_CODE: flag.default(true),
  OIDC_PROVIDERS: z
    .string()
    .trim()
    .regex(/^[a-z0-9-]+(?:\s*,\s*[a-z0-9-]+)*$/, 'must be comma-separated names of a-z, 0-9 and -')
    .optional(),
  GITHUB_CLIENT_ID: z.string().trim().min(1).max(200).optional(),
  GITHUB_CLIENT_SECRET: z.string().trim().min(1).max(500).optional(),
  GITHUB_URL: z.string().trim().default('https://github.com'),
  GITHUB_API_URL: z.string().trim().default('https://api.github.com'),
});

export interface Config {
  readonly env: 'development' | 'production' | 'test';
  readonly isProduction: boolean;
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  /** The first signs session cookies, all verify (rotation). Empty outside production means: generate one in dataDir. */
  readonly sessionSecrets: readonly string[];
  readonly bcryptCost: number;
  readonly trustProxy: number | string | false;
  readonly loginFailuresPerAccount: number;
  /** Failed logins against one account from browsers it has not seen, wherever they come from, per hour. */
  readonly loginFailuresPerAccountTotal: number;
  readonly loginFailuresPerIp: number;
  /** Every password check (right or wrong) from one network, per hour: nobody monopolises bcrypt. */
  readonly passwordChecksPerIp: number;
  /** Links by mail (reset, verification, email change) one network may ask for, per hour. */
  readonly mailLinksPerIp: number;
  /** Requests to move an account to another address, per user and hour, whatever they come to. */
  readonly emailChangesPerUser: number;
  /** Pages of the admin console's user list and audit trail one admin may ask for, per hour. */
  readonly adminSearchesPerHour: number;
  /** Actions (ending sessions, a reset link, ...) one admin may take from the console, per hour. */
  readonly adminActionsPerHour: number;
  /** Open sessions a user may hold (pending logins apart); the least recently used end first. */
  readonly sessionsPerUser: number;
  /** Logins waiting for their second factor a user may have at once; the oldest end first, never a session. */
  readonly pendingLoginsPerUser: number;
  /** Audit events older than this are deleted. */
  readonly authEventsRetentionDays: number;
  readonly signupsPerIp: number;
  /** A session without "remember me" ends after this long without a request. */
  readonly sessionIdleSeconds: number;
  /** No session outlives this, counted from login, however active. */
  readonly sessionMaxSeconds: number;
  readonly logLevel: string;
  /** Where mail goes: an SMTP server, or .eml files in dataDir/outbox (development). */
  readonly mailTransport: 'smtp' | 'outbox';
  /** Set whenever mailTransport is 'smtp'. Holds a password: never log it. */
  readonly smtpUrl: string | undefined;
  readonly mailFrom: string;
  /** The absolute base for links in mail, without a trailing slash. */
  readonly publicUrl: string;
  /** PUBLIC_URL's origin when it was set (not defaulted): what a same-site form's Origin must be. */
  readonly publicOrigin: string | null;
  /** Logging in needs a verified address (signing up then logs in only after the link is followed). */
  readonly requireVerifiedEmail: boolean;
  /** "Email me a sign-in code" on the login page: a code by mail as a first factor. */
  readonly loginByCode: boolean;
  /** The identity providers with a "Continue with …" button (OIDC_PROVIDERS, then GitHub when configured). */
  readonly identityProviders: readonly IdentityProviderConfig[];
}

export class ConfigError extends Error {}

/** The OpenID Connect providers Gatehouse knows: their issuer and the button's label. */
export const OIDC_PRESETS = {
  google: { issuer: 'https://accounts.google.com', label: 'Google' },
  // The `common` tenant: any work, school or personal account; each token's `iss` names its own tenant (`tid`).
  microsoft: { issuer: 'https://login.microsoftonline.com/common/v2.0', label: 'Microsoft' },
  gitlab: { issuer: 'https://gitlab.com', label: 'GitLab' },
  apple: { issuer: 'https://appleid.apple.com', label: 'Apple' },
} as const;

export type OidcPreset = keyof typeof OIDC_PRESETS;

/** One provider with a "Continue with …" button. Holds a client secret: never log it. */
export type IdentityProviderConfig =
  | {
      readonly kind: 'oidc';
      /** [a-z0-9-]+: the button's path (/login/oidc/NAME) and the callback's. */
      readonly name: string;
      readonly label: string;
      /** The issuer URL, as discovery must confirm it (Microsoft's `common` holds `{tenantid}` there). */
      readonly issuer: string;
      readonly clientId: string;
      readonly clientSecret: string;
      readonly preset: OidcPreset | null;
    }
  | {
      readonly kind: 'github';
      readonly name: 'github';
      readonly label: string;
      readonly clientId: string;
      readonly clientSecret: string;
      /** Where people sign in (https://github.com, or a GitHub Enterprise server). */
      readonly webUrl: string;
      /** Its REST API (https://api.github.com, or the server's /api/v3). */
      readonly apiUrl: string;
    };

const isPreset = (name: string): name is OidcPreset => Object.hasOwn(OIDC_PRESETS, name);

/**
 * An issuer or GitHub URL: https, or outside production http on this machine (development and
 * tests run a provider on localhost). No query or fragment; no trailing slash kept.
 */
function providerUrl(key: string, value: string, isProduction: boolean): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`Invalid configuration: ${key} must be an https:// URL`);
  }
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  const allowed = url.protocol === 'https:' || (!isProduction && url.protocol === 'http:' && local);
  if (!allowed || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new ConfigError(
      `Invalid configuration: ${key} must be an https:// URL` +
        (isProduction ? '' : ' (or http:// on localhost or 127.0.0.1 outside production)'),
    );
  }
  return value.replace(/\/+$/, '');
}

/** OIDC_PROVIDERS and each one's OIDC_<NAME>_* keys, then GitHub when both its keys are set. */
function identityProvidersFrom(
  env: Record<string, string | undefined>,
  list: string | undefined,
  github: { id: string | undefined; secret: string | undefined; webUrl: string; apiUrl: string },
  isProduction: boolean,
): IdentityProviderConfig[] {
  const names = (list ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const providers: IdentityProviderConfig[] = [];
  for (const name of names) {
    if (name === 'github') {
      throw new ConfigError(
        'Invalid configuration: OIDC_PROVIDERS must not name github (set GITHUB_CLIENT_ID instead)',
      );
    }
    if (name.length > 40) throw new ConfigError(`Invalid configuration: OIDC_PROVIDERS name ${name} is too long`);
    if (providers.some((provider) => provider.name === name)) {
      throw new ConfigError(`Invalid configuration: OIDC_PROVIDERS names ${name} twice`);
    }
    const prefix = `OIDC_${name.toUpperCase().replace(/-/g, '_')}_`;
    const read = (suffix: string) => env[prefix + suffix]?.trim() || undefined;
    const preset = isPreset(name) ? OIDC_PRESETS[name] : null;
    const issuer = read('ISSUER') ?? preset?.issuer;
    if (issuer === undefined) throw new ConfigError(`Invalid configuration: ${prefix}ISSUER must be set`);
    const clientId = read('CLIENT_ID');
    const clientSecret = read('CLIENT_SECRET');
    if (clientId === undefined) throw new ConfigError(`Invalid configuration: ${prefix}CLIENT_ID must be set`);
    if (clientSecret === undefined) throw new ConfigError(`Invalid configuration: ${prefix}CLIENT_SECRET must be set`);
    const label = read('LABEL') ?? preset?.label ?? name;
    if (label.length > 60 || /[\u0000-\u001f\u007f]/.test(label)) {
      throw new ConfigError(`Invalid configuration: ${prefix}LABEL must be at most 60 printable characters`);
    }
    providers.push({
      kind: 'oidc',
      name,
      label,
      issuer: providerUrl(`${prefix}ISSUER`, issuer, isProduction),
      clientId,
      clientSecret,
      preset: isPreset(name) ? name : null,
    });
  }
  if ((github.id === undefined) !== (github.secret === undefined)) {
    throw new ConfigError('Invalid configuration: GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET must be set together');
  }
  if (github.id !== undefined && github.secret !== undefined) {
    providers.push({
      kind: 'github',
      name: 'github',
      label: 'GitHub',
      clientId: github.id,
      clientSecret: github.secret,
      webUrl: providerUrl('GITHUB_URL', github.webUrl, isProduction),
      apiUrl: providerUrl('GITHUB_API_URL', github.apiUrl, isProduction),
    });
  }
  return providers;
}

/** Builds the configuration from an environment; throws ConfigError with one line naming the key. */
export function parseConfig(env: Record<string, string | undefined>): Config {
  // An empty value in .env means "not set", as it does for most twelve-factor tools.
  const given = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const result = envSchema.safeParse(given);
  if (!result.success) {
    const issue = result.error.issues[0];
    const key = issue?.path.join('.') ?? 'environment';
    throw new ConfigError(`Invalid configuration: ${key} ${issue?.message ?? 'is invalid'}`);
  }
  const e = result.data;
  const isProduction = e.NODE_ENV === 'production';
  // Several secrets, comma-separated, rotate the key: new cookies are signed with the first.
  const sessionSecrets = (e.SESSION_SECRET ?? '')
    .split(',')
    .map((secret) => secret.trim())
    .filter((secret) => secret !== '');
  if (isProduction && (sessionSecrets.length === 0 || sessionSecrets.some((secret) => secret.length < 32))) {
    throw new ConfigError('Invalid configuration: SESSION_SECRET must be set to at least 32 characters in production');
  }
  if (isProduction && e.BCRYPT_COST < 10) {
    throw new ConfigError('Invalid configuration: BCRYPT_COST must be at least 10 in production');
  }
  // Outside production, no SMTP server means "write mail to files", so a newcomer needs nothing set up;
  // in production that would lose every reset link quietly, so it has to be asked for by name.
  const mailTransport = e.MAIL_TRANSPORT ?? (e.SMTP_URL !== undefined || isProduction ? 'smtp' : 'outbox');
  if (mailTransport === 'smtp' && e.SMTP_URL === undefined) {
    throw new ConfigError(
      isProduction
        ? 'Invalid configuration: SMTP_URL must be set in production (or MAIL_TRANSPORT=outbox)'
        : 'Invalid configuration: SMTP_URL must be set when MAIL_TRANSPORT=smtp',
    );
  }
  // Links in mail must reach the site as people see it (behind its proxy), which HOST:PORT is not.
  if (isProduction && e.PUBLIC_URL === undefined) {
    throw new ConfigError(
      'Invalid configuration: PUBLIC_URL must be set in production (the https:// address people use, for links in mail)',
    );
  }
  return Object.freeze({
    env: e.NODE_ENV,
    isProduction,
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    dataDir: path.resolve(e.DATA_DIR),
    sessionSecrets: Object.freeze(sessionSecrets),
    bcryptCost: e.BCRYPT_COST,
    trustProxy: e.TRUST_PROXY,
    loginFailuresPerAccount: e.LOGIN_FAILURES_PER_ACCOUNT,
    loginFailuresPerAccountTotal: e.LOGIN_FAILURES_PER_ACCOUNT_TOTAL,
    loginFailuresPerIp: e.LOGIN_FAILURES_PER_IP,
    passwordChecksPerIp: e.PASSWORD_CHECKS_PER_IP,
    sessionsPerUser: e.SESSIONS_PER_USER,
    pendingLoginsPerUser: e.PENDING_LOGINS_PER_USER,
    mailLinksPerIp: e.MAIL_LINKS_PER_IP,
    emailChangesPerUser: e.EMAIL_CHANGES_PER_USER,
    adminSearchesPerHour: e.ADMIN_SEARCHES_PER_HOUR,
    adminActionsPerHour: e.ADMIN_ACTIONS_PER_HOUR,
    authEventsRetentionDays: e.AUTH_EVENTS_RETENTION_DAYS,
    signupsPerIp: e.SIGNUPS_PER_IP,
    sessionIdleSeconds: e.SESSION_IDLE_MINUTES * 60,
    sessionMaxSeconds: e.SESSION_MAX_DAYS * 24 * 60 * 60,
    logLevel: e.LOG_LEVEL,
    mailTransport,
    smtpUrl: e.SMTP_URL,
    mailFrom: e.MAIL_FROM,
    // localhost, not HOST: browsers refuse passkeys on an IP address, and localhost reaches the default HOST.
    publicUrl: e.PUBLIC_URL ?? `http://localhost:${e.PORT}`,
    publicOrigin: e.PUBLIC_URL === undefined ? null : new URL(e.PUBLIC_URL).origin,
    requireVerifiedEmail: e.REQUIRE_VERIFIED_EMAIL,
    loginByCode: e.LOGIN_BY_CODE,
    identityProviders: Object.freeze(
      identityProvidersFrom(
        given,
        e.OIDC_PROVIDERS,
        { id: e.GITHUB_CLIENT_ID, secret: e.GITHUB_CLIENT_SECRET, webUrl: e.GITHUB_URL, apiUrl: e.GITHUB_API_URL },
        isProduction,
      ),
    ),
  });
}

/** Reads process.env, after a `.env` file in the working directory if there is one (real env wins). */
export function loadConfig(envFile = '.env'): Config {
  if (existsSync(envFile)) process.loadEnvFile(envFile);
  return parseConfig(process.env);
}
