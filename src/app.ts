import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Express, type RequestHandler } from 'express';
import cookieParser from 'cookie-parser';
import helmet from 'helmet';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import { accounts as makeAccounts } from './users/accounts.js';
import { usersRepo } from './users/users-repo.js';
import { type PasswordHasher, createPasswordHasher } from './users/passwords.js';
import { authEventsRepo } from './audit/auth-events-repo.js';
import { sessionsRepo } from './sessions/sessions-repo.js';
import { createThrottle } from './auth/throttle.js';
import { deviceCookies } from './auth/device-cookie.js';
import { originOf, passwordChecks } from './auth/route-helpers.js';
import { loginSteps } from './auth/login-steps.js';
import { recoveryCodesRepo } from './mfa/recovery-codes-repo.js';
import { secondFactor } from './mfa/second-factor.js';
import { totpRepo } from './mfa/totp-repo.js';
import { twoFactorLoginRoutes } from './mfa/two-factor-login-routes.js';
import { twoFactorRoutes } from './mfa/two-factor-routes.js';
import { challengeCookie } from './passkeys/challenge-cookie.js';
import { passkeyLoginRoutes } from './passkeys/passkey-login-routes.js';
import { passkeyRoutes } from './passkeys/passkey-routes.js';
import { CHALLENGE_MS, passkeyCeremonies } from './passkeys/passkeys.js';
import { passkeysRepo } from './passkeys/passkeys-repo.js';
import { relyingParty } from './passkeys/relying-party.js';
import { usedChallengesRepo } from './passkeys/used-challenges-repo.js';
import { type Housekeeping, startHousekeeping } from './housekeeping.js';
import { authRoutes } from './auth/auth-routes.js';
import { loadCurrentUser } from './auth/current-user.js';
import { accountRoutes } from './account/account-routes.js';
import { accountTokensRepo } from './users/account-tokens-repo.js';
import { emailFlows } from './email-flows/email-flows.js';
import { emailLinkRoutes } from './email-flows/email-link-routes.js';
import { knownBrowsersRepo } from './email-flows/known-browsers-repo.js';
import type { Mailer } from './mail/mail-queue.js';
import { sessionsRoutes } from './account/sessions-routes.js';
import { dashboardRoutes } from './pages/dashboard-routes.js';
import { healthRoutes } from './pages/health-routes.js';
import { csrf, sameOriginOnly } from './http/csrf.js';
import { allowedMethods, errorHandler, notFound } from './http/errors.js';
import { flashMessages } from './http/flash.js';
import { formBody } from './http/form-body.js';
import { type Logger, requestLogging } from './http/logging.js';
import { createSessions } from './http/session.js';
import { useViews } from './http/views.js';

const STATIC_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../static');

export interface AppDeps {
  readonly config: Config;
  readonly db: Pick<Database, 'pool'>;
  readonly logger: Logger;
  /** All secrets that verify session cookies; the first signs. */
  readonly sessionSecrets: readonly string[];
  /** bcrypt at the configured cost unless given (tests count its calls). */
  readonly passwords?: PasswordHasher;
  /** Queues mail; its worker is started and stopped by the server. */
  readonly mailer: Mailer;
  /** Seconds between sweeps of old rows (audit retention); false for none. Hourly by default, none in tests. */
  readonly housekeepingSeconds?: number | false;
}

export interface App {
  readonly app: Express;
  /** The periodic sweeps, which a test can also run at once. */
  readonly housekeeping: Housekeeping;
  /** Stops timers the app owns (the session prune timer); the database is closed by its owner. */
  close(): Promise<void>;
}

/** Every route and the methods it answers; anything else on these paths is a 405. */
const ROUTES = {
  '/': ['GET', 'HEAD'],
  '/healthz': ['GET', 'HEAD'],
  '/signup': ['GET', 'HEAD', 'POST'],
  '/login': ['GET', 'HEAD', 'POST'],
  '/logout': ['GET', 'HEAD', 'POST'],
  '/account': ['GET', 'HEAD', 'POST'],
  '/account/email': ['GET', 'HEAD', 'POST'],
  '/account/password': ['GET', 'HEAD', 'POST'],
  '/account/sessions': ['GET', 'HEAD'],
  '/account/sessions/end': ['POST'],
  '/account/sessions/end-others': ['POST'],
  '/account/delete': ['GET', 'HEAD', 'POST'],
  '/password/forgot': ['GET', 'HEAD', 'POST'],
  '/password/reset': ['GET', 'HEAD', 'POST'],
  '/login/two-factor': ['GET', 'HEAD', 'POST'],
  '/login/recovery-code': ['GET', 'HEAD', 'POST'],
  '/account/security': ['GET', 'HEAD'],
  '/account/two-factor/totp': ['GET', 'HEAD', 'POST'],
  '/account/two-factor/totp/disable': ['POST'],
  '/account/two-factor/recovery-codes': ['POST'],
  '/account/passkeys': ['GET', 'HEAD', 'POST'],
  '/account/passkeys/options': ['POST'],
  '/account/passkeys/remove': ['POST'],
  '/login/passkey/options': ['POST'],
  '/login/passkey': ['POST'],
  '/email/verify': ['GET', 'HEAD', 'POST'],
  '/email/change/cancel': ['GET', 'HEAD', 'POST'],
  '/email/verify/send': ['POST'],
} as const satisfies Record<string, readonly string[]>;

// Pages with account data or auth forms must not be kept by browsers or proxies.
const noStore: RequestHandler = (_req, res, next) => {
  res.set('Cache-Control', 'no-store');
  next();
};

export function createApp({
  config,
  db,
  logger,
  sessionSecrets,
  passwords,
  mailer,
  housekeepingSeconds = config.env === 'test' ? false : 60 * 60,
}: AppDeps): App {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  app.set('query parser', 'simple');
  // Every page is no-store and most carry a fresh CSRF token: an ETag would be hashing for nothing.
  // (Static files keep theirs: express.static makes its own.)
  app.set('etag', false);
  useViews(app, config.env === 'development');

  const users = usersRepo(db.pool);
  const events = authEventsRepo(db.pool);
  const sessionRows = sessionsRepo(db.pool);
  const hasher = passwords ?? createPasswordHasher(config.bcryptCost);
  const tokens = accountTokensRepo(db.pool);
  const accounts = makeAccounts(users, hasher, events, sessionRows, tokens);
  const mail = emailFlows({
    users,
    tokens,
    browsers: knownBrowsersRepo(db.pool),
    sessions: sessionRows,
    events,
    passwords: hasher,
    mailer,
    logger,
    publicUrl: config.publicUrl,
  });
  const throttle = createThrottle(db.pool, config, config.env !== 'test');
  const checks = passwordChecks(throttle, deviceCookies(sessionSecrets, config.isProduction), accounts);
  const sessions = createSessions({
    pool: db.pool,
    secrets: sessionSecrets,
    secure: config.isProduction,
    idleSeconds: config.sessionIdleSeconds,
    pruneSeconds: config.env === 'test' ? false : 15 * 60,
    maxPerUser: config.sessionsPerUser,
  });
  const rp = relyingParty(config.publicUrl);
  const ceremonies = passkeyCeremonies({
    passkeys: passkeysRepo(db.pool),
    used: usedChallengesRepo(db.pool),
    users,
    events,
    notices: mail,
    rp,
  });
  const factors = secondFactor({
    totp: totpRepo(db.pool),
    codes: recoveryCodesRepo(db.pool),
    events,
    notices: mail,
    secrets: sessionSecrets,
    issuer: 'Gatehouse',
    passkeyCount: (userId) => ceremonies.count(userId),
  });
  const steps = loginSteps({
    accounts,
    notices: mail,
    needsSecondFactor: (userId) => factors.required(userId),
    sessionMaxSeconds: config.sessionMaxSeconds,
  });
  const otherSessions = async (userId: number, currentSid: string) =>
    Math.max(0, (await accounts.openSessions(userId, currentSid, 1)).total - 1);
  const housekeeping = startHousekeeping(
    [
      { name: 'auth_events', run: () => events.deleteOlderThan(config.authEventsRetentionDays) },
      { name: 'webauthn_challenges_used', run: () => ceremonies.sweepUsedChallenges() },
    ],
    housekeepingSeconds,
    (sweep, error) => logger.error({ err: error, sweep }, 'housekeeping sweep failed'),
  );

  app.use(requestLogging(logger));
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          objectSrc: ["'none'"],
          baseUri: ["'none'"],
          frameAncestors: ["'none'"],
          formAction: ["'self'"],
        },
      },
      referrerPolicy: { policy: 'same-origin' },
      xFrameOptions: { action: 'deny' },
      strictTransportSecurity: config.isProduction ? { maxAge: 365 * 24 * 60 * 60, includeSubDomains: true } : false,
    }),
  );
  app.use('/static', express.static(STATIC_DIR, { maxAge: '1d', index: false }));
  app.use(allowedMethods(ROUTES));
  app.use(healthRoutes(db.pool));

  app.use(noStore);
  app.use(formBody);
  app.use(cookieParser());
  app.use(sessions.middleware);
  app.use(sameOriginOnly(config.publicOrigin));
  const forms = csrf({ secrets: sessionSecrets, secure: config.isProduction });
  app.use(forms.tokens);
  app.use(forms.protection);
  app.use(flashMessages(sessionSecrets, config.isProduction));
  app.use(loadCurrentUser(sessions, config.sessionMaxSeconds));
  app.use((_req, res, next) => {
    // The pages show their passkey parts only where browsers allow WebAuthn (not on an IP address).
    res.locals.passkeysAvailable = rp.available;
    next();
  });

  app.use(
    authRoutes({
      accounts,
      mail,
      throttle,
      passwordChecks: checks,
      steps,
      sessionMaxSeconds: config.sessionMaxSeconds,
      requireVerifiedEmail: config.requireVerifiedEmail,
    }),
  );
  app.use(
    twoFactorLoginRoutes({ factors, steps, throttle, activeUser: accounts.activeUser, recordThrottled: accounts }),
  );
  app.use(
    passkeyLoginRoutes({
      ceremonies,
      challenges: challengeCookie(sessionSecrets, config.isProduction, CHALLENGE_MS),
      steps,
      throttle,
      recordThrottled: accounts,
      secondStepStatus: (userId) => factors.status(userId),
    }),
  );
  app.use(emailLinkRoutes({ mail, throttle, steps, secure: config.isProduction }));
  app.use(accountRoutes({ accounts, mail, throttle, passwordChecks: checks }));
  app.use(
    twoFactorRoutes({
      factors,
      passwordChecks: checks,
      confirmPassword: (userId, password, req, what) => accounts.confirmPassword(userId, password, originOf(req), what),
      otherSessions,
    }),
  );
  app.use(
    passkeyRoutes({
      ceremonies,
      factors,
      passwordChecks: checks,
      confirmPassword: (userId, password, req, what) => accounts.confirmPassword(userId, password, originOf(req), what),
      otherSessions,
    }),
  );
  app.use(sessionsRoutes(accounts));
  app.use(dashboardRoutes());
  app.use(notFound);
  app.use(errorHandler);

  return {
    app,
    housekeeping,
    close: async () => {
      housekeeping.stop();
      await sessions.close();
    },
  };
}
