import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Express, type RequestHandler } from 'express';
import cookieParser from 'cookie-parser';
import helmet from 'helmet';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import { type AccountNotices, accounts as makeAccounts } from './users/accounts.js';
import { transactions } from './db/transactions.js';
import { secondFactorGuessesRepo } from './login/second-factor-guesses-repo.js';
import { usersRepo } from './users/users-repo.js';
import { type PasswordHasher, createPasswordHasher } from './users/passwords.js';
import { authEventsRepo } from './audit/auth-events-repo.js';
import { sessionsRepo } from './sessions/sessions-repo.js';
import { createThrottle } from './login/throttle.js';
import { deviceCookies } from './login/device-cookie.js';
import { codeChecks } from './login/code-checks.js';
import { passwordChecks } from './login/password-checks.js';
import { expireLoginInProgress } from './login/login-in-progress.js';
import { loginSteps } from './login/login-steps.js';
import { LoginStages } from './login/stages.js';
import { codeRequestCookie } from './login-code/code-request-cookie.js';
import { loginCodeRoutes } from './login-code/login-code-routes.js';
import { loginCodes } from './login-code/login-codes.js';
import { loginCodesRepo } from './login-code/login-codes-repo.js';
import { recoveryCodesRepo } from './mfa/recovery-codes-repo.js';
import { secondFactor } from './mfa/second-factor.js';
import { totpRepo } from './mfa/totp-repo.js';
import { twoFactorLoginRoutes } from './mfa/two-factor-login-routes.js';
import { twoFactorRoutes } from './mfa/two-factor-routes.js';
import { challengeCookie } from './passkeys/challenge-cookie.js';
import { passkeyLoginRoutes } from './passkeys/passkey-login-routes.js';
import { passkeyRoutes } from './passkeys/passkey-routes.js';
import { passkeyCeremonies } from './passkeys/passkeys.js';
import { passkeysRepo } from './passkeys/passkeys-repo.js';
import { relyingParty } from './passkeys/relying-party.js';
import { usedChallengesRepo } from './passkeys/used-challenges-repo.js';
import { type Housekeeping, startHousekeeping } from './housekeeping.js';
import { authRoutes } from './auth/auth-routes.js';
import { loadCurrentUser } from './http/current-user.js';
import { accountRoutes } from './account/account-routes.js';
import { accountTokensRepo } from './users/account-tokens-repo.js';
import { emailFlows } from './email-flows/email-flows.js';
import { emailLinkRoutes } from './email-flows/email-link-routes.js';
import { knownBrowsersRepo } from './email-flows/known-browsers-repo.js';
import type { Mailer } from './mail/mail-queue.js';
import { sessionsRoutes } from './account/sessions-routes.js';
import { confirmRoutes } from './account/confirm-routes.js';
import { healthRoutes } from './http/health-routes.js';
import { loadPages } from './http/page.js';
import { type Route, clashes, methodNotAllowed, routerFor } from './http/routes.js';
import { personalData as makePersonalData } from './users/personal-data.js';
import { csrf, sameOriginOnly } from './http/csrf.js';
import { errorHandler, notFound } from './http/errors.js';
import { flashMessages } from './http/flash.js';
import { formBody } from './http/form-body.js';
import { type Logger, requestLogging } from './http/logging.js';
import { createSessions } from './http/session.js';
import { useViews } from './http/views.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const STATIC_DIR = path.resolve(HERE, '../static');
/** The app's own pages: every "*-page.ts" file here is found at start-up (src/pages/, or dist/pages/ once built). */
export const PAGES_DIR = path.join(HERE, 'pages');

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
  /** Where pages are found: src/pages/ (dist/pages/) unless given; a test adds its own. */
  readonly pageDirectories?: readonly string[];
  /** More template directories, searched after views/ (for pages kept outside the project's own). */
  readonly viewDirectories?: readonly string[];
}

export interface App {
  readonly app: Express;
  /** Every route the app declared, with whether it is public: what the router and the 405s are made of. */
  readonly routes: readonly Route[];
  /** The periodic sweeps, which a test can also run at once. */
  readonly housekeeping: Housekeeping;
  /** Stops timers the app owns (the session prune timer); the database is closed by its owner. */
  close(): Promise<void>;
}

// Pages with account data or auth forms must not be kept by browsers or proxies.
const noStore: RequestHandler = (_req, res, next) => {
  res.set('Cache-Control', 'no-store');
  next();
};

export async function createApp({
  config,
  db,
  logger,
  sessionSecrets,
  passwords,
  mailer,
  housekeepingSeconds = config.env === 'test' ? false : 60 * 60,
  pageDirectories = [PAGES_DIR],
  viewDirectories = [],
}: AppDeps): Promise<App> {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  app.set('query parser', 'simple');
  // Every page is no-store and most carry a fresh CSRF token: an ETag would be hashing for nothing.
  // (Static files keep theirs: express.static makes its own.)
  app.set('etag', false);
  useViews(app, config.env === 'development', viewDirectories);

  // The repos are built on tx.db: a use case's statements join its transaction, if it has one.
  const tx = transactions(db.pool);
  const users = usersRepo(tx.db);
  const events = authEventsRepo(tx.db);
  const sessionRows = sessionsRepo(tx.db);
  const hasher = passwords ?? createPasswordHasher(config.bcryptCost);
  const tokens = accountTokensRepo(tx.db);
  const browsers = knownBrowsersRepo(tx.db);
  // The account's changes mail through email-flows, which is built on the accounts: bound at call time.
  const notices: AccountNotices = {
    passwordChanged: (user, origin) => mail.passwordChanged(user, origin),
    emailChangeRequested: (user, newEmail) => mail.emailChangeRequested(user, newEmail),
  };
  const accounts = makeAccounts({
    users,
    passwords: hasher,
    events,
    sessions: sessionRows,
    tokens,
    codeGuesses: secondFactorGuessesRepo(tx.db),
    atomically: tx.atomically,
    notices,
  });
  const mail = emailFlows({
    users,
    tokens,
    browsers,
    events,
    accounts,
    mailer,
    db: tx.db,
    atomically: tx.atomically,
    optional: tx.optional,
    logger,
    publicUrl: config.publicUrl,
  });
  const throttle = createThrottle(db.pool, config, config.env !== 'test');
  const devices = deviceCookies(sessionSecrets, config.isProduction, (email) => users.deviceKeyOf(email));
  const checks = passwordChecks(throttle, devices, accounts);
  const codes = codeChecks(throttle, devices, accounts);
  const sessions = createSessions({
    pool: db.pool,
    secrets: sessionSecrets,
    secure: config.isProduction,
    idleSeconds: config.sessionIdleSeconds,
    pruneSeconds: config.env === 'test' ? false : 15 * 60,
    maxPerUser: config.sessionsPerUser,
    maxPendingPerUser: config.pendingLoginsPerUser,
  });
  const rp = relyingParty(config.publicUrl);
  const ceremonies = passkeyCeremonies({
    passkeys: passkeysRepo(tx.db),
    used: usedChallengesRepo(tx.db),
    users,
    events,
    notices: mail,
    rp,
  });
  const factors = secondFactor({
    totp: totpRepo(tx.db),
    codes: recoveryCodesRepo(tx.db),
    events,
    notices: mail,
    secrets: sessionSecrets,
    issuer: 'Gatehouse',
    atomically: tx.atomically,
    passkeyCount: (userId) => ceremonies.count(userId),
  });
  const personalData = makePersonalData({
    sessions: sessionRows,
    events,
    knownBrowsers: (userId) => browsers.listFor(userId),
    factors: async (userId) => {
      const [status, passkeys] = await Promise.all([factors.status(userId), ceremonies.list(userId)]);
      return { authenticatorAppSince: status.totpSince, recoveryCodesLeft: status.recoveryCodesLeft, passkeys };
    },
    maxSessions: config.sessionsPerUser,
  });
  // Every step of a login has its page defined by the feature that owns it (auth, mfa), below.
  const stages = new LoginStages();
  const steps = loginSteps({
    accounts,
    notices: mail,
    codes,
    devices,
    factorsOf: async (userId) => {
      const status = await factors.status(userId);
      return {
        app: status.totpSince !== null,
        passkeys: status.passkeys > 0,
        recoveryCodes: status.recoveryCodesLeft > 0,
      };
    },
    stages,
    sessionMaxSeconds: config.sessionMaxSeconds,
    requireVerifiedEmail: config.requireVerifiedEmail,
  });
  const codesByMail = loginCodes({
    users,
    codes: loginCodesRepo(tx.db),
    events,
    mailer,
    db: tx.db,
    atomically: tx.atomically,
    secrets: sessionSecrets,
  });
  const otherSessions = async (userId: number, currentSid: string) =>
    Math.max(0, (await accounts.openSessions(userId, currentSid, 1)).total - 1);
  // Every part of the site declares its routes (protected unless declared public); the pages in
  // src/pages/ are found on disk. Together they make the 405 table and the one router.
  const health = healthRoutes(db.pool);
  const parts = [
    authRoutes({
      accounts,
      mail,
      throttle,
      passwordChecks: checks,
      steps,
      requireVerifiedEmail: config.requireVerifiedEmail,
      stages,
    }),
    twoFactorLoginRoutes({ factors, steps, codes, stages, activeUser: accounts.activeUser }),
    passkeyLoginRoutes({
      ceremonies,
      challenges: challengeCookie(sessionSecrets, config.isProduction),
      steps,
      throttle,
      recordThrottled: accounts,
      stages,
    }),
    emailLinkRoutes({ mail, throttle, steps, secure: config.isProduction }),
    ...(config.loginByCode
      ? [
          loginCodeRoutes({
            codes: codesByMail,
            requests: codeRequestCookie(sessionSecrets, config.isProduction),
            throttle,
            steps,
            stages,
          }),
        ]
      : []),
    accountRoutes({ accounts, throttle, passwordChecks: checks }),
    confirmRoutes({ passwordChecks: checks, codes, steps, secondFactor: factors }),
    twoFactorRoutes({
      factors,
      passwordChecks: checks,
      otherSessions,
    }),
    passkeyRoutes({
      ceremonies,
      factors,
      passwordChecks: checks,
      otherSessions,
      atomically: tx.atomically,
    }),
    sessionsRoutes(accounts),
    await loadPages(pageDirectories, { accounts, personalData, logger }),
  ];
  const siteRoutes = parts.flatMap((part) => part.list);
  const everyRoute = [...health.list, ...siteRoutes];
  const clashing = clashes(everyRoute);
  if (clashing.length > 0) throw new Error(`Routes declared twice: ${clashing.join(', ')}`);

  const housekeeping = startHousekeeping(
    [
      { name: 'auth_events', run: () => events.deleteOlderThan(config.authEventsRetentionDays) },
      { name: 'webauthn_challenges_used', run: () => ceremonies.sweepUsedChallenges() },
      { name: 'login_codes', run: () => codesByMail.sweepExpired() },
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
  app.use(methodNotAllowed(everyRoute));
  app.use(routerFor(health.list));

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
  app.use(expireLoginInProgress);
  app.use((_req, res, next) => {
    // The pages show their passkey parts only where browsers allow WebAuthn (not on an IP address).
    res.locals.passkeysAvailable = rp.available;
    next();
  });

  app.use(routerFor(siteRoutes));
  app.use(notFound);
  app.use(errorHandler);

  return {
    app,
    routes: everyRoute,
    housekeeping,
    close: async () => {
      housekeeping.stop();
      await sessions.close();
    },
  };
}
