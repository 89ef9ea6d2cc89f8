import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { DestinationStream, Logger } from 'pino';
import { pino } from 'pino';
import type { Request, RequestHandler, Response } from 'express';

export type { Logger };

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The request id, also sent back as X-Request-Id and written on the request's log line. */
      id: string;
      /** The logger, with this request (its id, method and path) on every line. */
      log: Logger;
    }
  }
}

/** Values that must never reach a log line, wherever they appear. */
const REDACT = [
  'req.headers.cookie',
  'req.headers.authorization',
  'res.headers["set-cookie"]',
  '*.password',
  '*.confirm',
  '*._csrf',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' } }, destination);
}

/** What a log line says about a request: never its headers, query string, cookies or body. */
const requestOf = (req: Request) => ({ id: req.id, method: req.method, path: req.url.split('?')[0] });

/** Where a request began (ms since the epoch), for its line's responseTime. */
const STARTED = Symbol('started');
type Timed = Request & { [STARTED]?: number };

/**
 * One line per request with a request id (also sent back as X-Request-Id); no bodies, no cookies.
 * The line is pino-http's (same keys and messages: "request completed", "request aborted", and
 * "request errored" at error level for a 5xx), written straight from the response's end: no
 * child logger and no listeners per request. `req.log` (a child carrying the request) is made
 * only when something asks for it, which is the error handler.
 */
export function requestLogging(logger: Logger): RequestHandler {
  const prototypes = new WeakSet<object>();
  // The request line holds an id, a method, a path without its query, a status and a time, never
  // anything REDACT names: it skips the redaction pass that every other line gets.
  const access = logger.child({}, { redact: [] });
  const line = (req: Request, res: ServerResponse) => {
    const responseTime = Date.now() - ((req as Timed)[STARTED] ?? Date.now());
    const fields = { req: requestOf(req), res: { statusCode: res.statusCode }, responseTime };
    if (res.statusCode >= 500) {
      access.error({ ...fields, err: new Error(`failed with status code ${res.statusCode}`) }, 'request errored');
      return;
    }
    access.info(fields, !req.readableAborted && res.writableEnded ? 'request completed' : 'request aborted');
  };
  // One listener for every response (no closure per request): Express links the response to its request.
  function logLine(this: Response): void {
    line(this.req, this);
  }
  return (req, res, next) => {
    // req.log as a getter on the app's request prototype, once: a request that logs nothing of its own pays nothing.
    const prototype = Object.getPrototypeOf(req) as object;
    if (!prototypes.has(prototype)) {
      prototypes.add(prototype);
      Object.defineProperty(prototype, 'log', {
        configurable: true,
        get(this: Request) {
          const child = logger.child({ req: requestOf(this) });
          Object.defineProperty(this, 'log', { value: child, configurable: true, writable: true });
          return child;
        },
      });
    }
    (req as Timed)[STARTED] = Date.now();
    const id = randomUUID();
    req.id = id;
    res.setHeader('X-Request-Id', id);
    // 'close' comes after 'finish' for a response sent whole, and alone for one cut short.
    res.once('close', logLine);
    next();
  };
}
