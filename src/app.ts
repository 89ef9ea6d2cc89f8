import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Express, type RequestHandler, Router } from 'express';
import cookieParser from 'cookie-parser';
import helmet from 'helmet';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import { CONSOLE_PATH, consoleGate, isConsolePath } from './admin-console/console-gate.js';
import { type Housekeeping, startHousekeeping } from './housekeeping.js';
import { chain } from './http/chain.js';
import { csrf, sameOriginOnly } from './http/csrf.js';
import { loadCurrentUser } from './http/current-user.js';
import { errorHandler, notFound } from './http/errors.js';
import { flashMessages } from './http/flash.js';
import { fixedHeaders } from './http/fixed-headers.js';
import { formBody } from './http/form-body.js';
import { healthRoutes } from './http/health-routes.js';
import { type Logger, requestLogging } from './http/logging.js';
import { type Route, clashes, dispatchRoutes, isUnder, methodNotAllowed } from './http/routes.js';
import { createSessions } from './http/session.js';
import { useViews } from './http/views.js';
import { exceptProviderAnswers, isProviderCallback } from './identities/provider-answers.js';
import { providerOrigins } from './identities/provider-origins.js';
import { expireLoginInProgress } from './login/login-in-progress.js';
import type { Mailer } from './mail/mail-queue.js';
import { buildServices } from './services.js';
import { siteRoutes } from './site-routes.js';
import type { PasswordHasher } from './users/passwords.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const STATIC_DIR = path.resolve(HERE, '../static');
const STATIC_PATH = '/static';
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
  res.setHeader('Cache-Control', 'no-store');
  next();
};

/**
 * `handler` mounted at `mountPath` as app.use(mountPath, handler) would mount it (the path matched
 * in any case, the mount path taken off req.url while it runs), run only for a request under that
 * path: every other request goes on at the cost of one test.
 */
function under(mountPath: string, handler: RequestHandler): RequestHandler {
  const mounted = Router().use(mountPath, handler);
  const applies = isUnder(mountPath);
  const run: RequestHandler = (req, res, next) => (applies(req.path) ? mounted(req, res, next) : next());
  // What it runs, for a test that reads what the app routes (as chain.ts's `handlers`).
  return Object.assign(run, { handlers: [mounted] });
}

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

  const services = buildServices({ config, pool: db.pool, secrets: sessionSecrets, mailer, logger, passwords });
  const { events, ceremonies, codesByMail } = services;
  const sessions = createSessions({
    pool: db.pool,
    secrets: sessionSecrets,
    secure: config.isProduction,
    idleSeconds: config.sessionIdleSeconds,
    pruneSeconds: config.env === 'test' ? false : 15 * 60,
    maxPerUser: config.sessionsPerUser,
    maxPendingPerUser: config.pendingLoginsPerUser,
    mayLogIn: isProviderCallback,
  });
  // Every part of the site declares its routes; together they make the 405 table and the one router.
  const health = healthRoutes(db.pool);
  const site = (await siteRoutes(services, { pageDirectories, logger })).flatMap((part) => part.list);
  const everyRoute = [...health.list, ...site];
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

  // helmet's headers, learnt once (none depends on the request) and set as one step.
  const headers = fixedHeaders(
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
          // A provider's sign-in page is where the "Continue with …" forms end up, by a redirect.
          formAction: ["'self'", ...providerOrigins(config.identityProviders)],
        },
      },
      referrerPolicy: { policy: 'same-origin' },
      xFrameOptions: { action: 'deny' },
      strictTransportSecurity: config.isProduction ? { maxAge: 365 * 24 * 60 * 60, includeSubDomains: true } : false,
    }),
  );
  // The console's 405s come after its gate: to anyone but an admin, /admin answers nothing but 404.
  const [consoleRouteList, otherRoutes] = [
    everyRoute.filter((route) => isConsolePath(route.path)),
    everyRoute.filter((route) => !isConsolePath(route.path)),
  ];
  const forms = csrf({ secrets: sessionSecrets, secure: config.isProduction });
  // The whole site is one middleware (chain.ts) ahead of the error handler, rather than a dozen
  // layers that Express's router would match one by one on every request: the two parts mounted
  // at a path (the static files, the console's gate) go through a router of their own, and only
  // for a path under theirs.
  app.use(
    chain(
      requestLogging(logger),
      headers,
      under(STATIC_PATH, express.static(STATIC_DIR, { maxAge: '1d', index: false })),
      methodNotAllowed(otherRoutes),
      dispatchRoutes(health.list),
      // Everything a page needs before its route, in this order.
      noStore,
      formBody,
      cookieParser(),
      sessions.middleware,
      // A provider's form_post answer (Apple) is the one cross-site POST: its route only redirects.
      exceptProviderAnswers(sameOriginOnly(config.publicOrigin)),
      forms.tokens,
      exceptProviderAnswers(forms.protection),
      flashMessages(sessionSecrets, config.isProduction),
      loadCurrentUser(sessions, config.sessionMaxSeconds),
      expireLoginInProgress,
      (_req, res, next) => {
        // The pages show their passkey parts only where browsers allow WebAuthn (not on an IP address).
        res.locals.passkeysAvailable = ceremonies.rp.available;
        next();
      },
      under(CONSOLE_PATH, consoleGate(services.adminConsole)),
      methodNotAllowed(consoleRouteList),
      dispatchRoutes(site),
      notFound,
    ),
  );
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
