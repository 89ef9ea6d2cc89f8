import { type NextFunction, type Request, type RequestHandler, type Response, Router } from 'express';
import { messages } from '../messages.js';
import type { User } from '../users/users-repo.js';
import { chain } from './chain.js';
import { requireLogin } from './current-user.js';
import { HttpError } from './errors.js';

/** A request on a protected route: someone is logged in, and `req.user` is who. */
export type SignedInRequest = Request & { user: User };

/** A route's handler (or one of its middlewares); Express 5 passes on what an async one throws. */
export type Handler<R extends Request = Request> = (req: R, res: Response, next: NextFunction) => unknown;

/** The methods a route is declared with: forms post, pages get (HEAD comes with GET). */
export type Method = 'GET' | 'POST';

export interface Route {
  readonly method: Method;
  readonly path: string;
  /** Open to visitors who are not logged in; every other route needs a login. */
  readonly isPublic: boolean;
  readonly handlers: readonly Handler<never>[];
}

type Declare<R extends Request> = (path: string, ...handlers: Handler<R>[]) => Routes;

/**
 * The routes of one part of the site. Every route needs a logged-in user (a visitor is sent to
 * the login page, with the page as `next`) unless it is declared with `.public`, right where it
 * is declared. Nothing else is needed to protect a page: a route written without a thought
 * about logins is behind one.
 *
 *     routes.get('/account/activity', handler);          // logged in only; req.user is set
 *     routes.public.get('/signup', requireAnonymous, h);  // anyone
 */
export class Routes {
  readonly #list: Route[] = [];

  readonly get: Declare<SignedInRequest> = (path, ...handlers) => this.#add('GET', path, false, handlers);
  readonly post: Declare<SignedInRequest> = (path, ...handlers) => this.#add('POST', path, false, handlers);

  /** Routes anyone may use, logged in or not. `req.user` is the user when there is one. */
  readonly public: Readonly<Record<'get' | 'post', Declare<Request>>> = {
    get: (path, ...handlers) => this.#add('GET', path, true, handlers),
    post: (path, ...handlers) => this.#add('POST', path, true, handlers),
  };

  /** Everything declared so far, in order. */
  get list(): readonly Route[] {
    return this.#list;
  }

  #add(method: Method, path: string, isPublic: boolean, handlers: readonly Handler<never>[]): this {
    if (!path.startsWith('/')) throw new Error(`A route's path starts with "/": ${method} ${path}`);
    if (handlers.length === 0) throw new Error(`${method} ${path} has no handler`);
    const taken = this.#list.find((route) => route.method === method && samePath(route.path, path));
    if (taken) throw new Error(`${method} ${path} is declared twice`);
    this.#list.push({ method, path, isPublic, handlers });
    return this;
  }
}

// Express matches paths case-insensitively and with or without a trailing slash.
const pathKey = (path: string): string => path.toLowerCase().replace(/(.)\/$/, '$1');
/** A path with parameters (/admin/users/:id), which Express's router matches; any other is looked up. */
const hasParameters = (path: string): boolean => /[:*]/.test(path);
const samePath = (a: string, b: string): boolean => pathKey(a) === pathKey(b);

/**
 * A test for "`mountPath` itself or a path under it", as Express matches a mount path (in any
 * case): for `/admin`, `/admin` and `/ADMIN/users`, not `/administrator`.
 */
export function isUnder(mountPath: string): (path: string) => boolean {
  const prefix = new RegExp(`^${mountPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:/|$)`, 'i');
  return (path) => prefix.test(path);
}

const METHOD_ORDER = ['GET', 'HEAD', 'POST'];

/** The methods each path answers (GET brings HEAD, as Express answers HEAD with the GET route). */
export function allowedMethodsOf(routes: readonly Route[]): Map<string, { path: string; methods: string[] }> {
  const table = new Map<string, { path: string; methods: string[] }>();
  for (const { method, path } of routes) {
    const entry = table.get(pathKey(path)) ?? { path, methods: [] };
    entry.methods = METHOD_ORDER.filter(
      (known) => entry.methods.includes(known) || known === method || (known === 'HEAD' && method === 'GET'),
    );
    table.set(pathKey(path), entry);
  }
  return table;
}

const refuse = (methods: readonly string[]) =>
  new HttpError(405, messages.errors.methodNotAllowed, { Allow: methods.join(', ') });

/**
 * 405 with Allow for a declared path asked with a method it does not answer, from the routes
 * themselves. Mounted before the session and the CSRF check, so the answer costs nothing and
 * does not depend on a token. Plain paths are looked up; a path with parameters (/notes/:id)
 * is matched by Express.
 */
export function methodNotAllowed(routes: readonly Route[]): RequestHandler {
  const plain = new Map<string, readonly string[]>();
  const patterns = Router();
  for (const [key, { path, methods }] of allowedMethodsOf(routes)) {
    if (hasParameters(path)) {
      patterns.all(path, (req, _res, next) => {
        if (!methods.includes(req.method)) throw refuse(methods);
        next();
      });
    } else plain.set(key, methods);
  }
  return (req, res, next) => {
    const methods = plain.get(pathKey(req.path));
    if (methods && !methods.includes(req.method)) throw refuse(methods);
    if (methods) return next();
    patterns(req, res, next);
  };
}

/** Where two parts of the site declare the same method on the same path (the second would never run). */
export function clashes(routes: readonly Route[]): string[] {
  const seen = new Set<string>();
  const clashing: string[] = [];
  for (const { method, path } of routes) {
    const key = `${method} ${pathKey(path)}`;
    if (seen.has(key)) clashing.push(key);
    seen.add(key);
  }
  return clashing;
}

/**
 * What runs for a route: `requireLogin` first for a protected one (a visitor goes to the login
 * page), which makes `req.user` present for its handlers, as their type says.
 */
const runsFor = ({ isPublic, handlers }: Route): RequestHandler[] => [
  ...(isPublic ? [] : [requireLogin]),
  ...(handlers as readonly RequestHandler[]),
];

export interface RouteDispatch extends RequestHandler {
  /** The routes it finds by lookup, as `METHOD /path` (HEAD comes with GET). */
  readonly served: () => string[];
  /** The router of the routes with parameters (for a test that reads what the app routes). */
  readonly handlers: readonly [Router];
}

/**
 * The middleware that runs `routes`. A route with a plain path is found in one Map lookup (by
 * method and path, as Express matches them: any case, with or without a trailing slash; GET
 * answers HEAD too), rather than by trying every declared route's pattern in turn on every
 * request; a route with parameters (/admin/users/:id) goes through Express's router. A request
 * no route takes goes on to what comes after (the 404). (Clashes are app.ts's check, over every
 * route at once.)
 */
export function dispatchRoutes(routes: readonly Route[]): RouteDispatch {
  const plain = new Map<string, { route: Route; run: RequestHandler }>();
  const router = Router();
  for (const route of routes) {
    if (hasParameters(route.path)) {
      if (route.method === 'GET') router.get(route.path, ...runsFor(route));
      else router.post(route.path, ...runsFor(route));
      continue;
    }
    const run = chain(...runsFor(route));
    plain.set(`${route.method} ${pathKey(route.path)}`, { route, run });
    if (route.method === 'GET') plain.set(`HEAD ${pathKey(route.path)}`, { route, run });
  }
  const dispatch: RequestHandler = (req, res, next) => {
    const found = plain.get(`${req.method} ${pathKey(req.path)}`);
    if (found !== undefined) return found.run(req, res, next);
    if (router.stack.length > 0) return router(req, res, next);
    next();
  };
  const served = (): string[] =>
    [...plain].filter(([key]) => !key.startsWith('HEAD ')).map(([, { route }]) => `${route.method} ${route.path}`);
  return Object.assign(dispatch, { served, handlers: [router] as const });
}
