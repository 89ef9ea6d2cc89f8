import type { ErrorRequestHandler, RequestHandler } from 'express';
import { messages } from '../messages.js';

/** An error meant for the visitor: its status and message are shown as they are. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const TITLES: Readonly<Record<number, string>> = messages.errors.titles;
const title = (status: number): string => TITLES[status] ?? messages.errors.otherTitle;

// Messages for the errors that body-parser and csrf-sync raise, by their `type`/`code`.
const LIBRARY_MESSAGES: Readonly<Record<string, string>> = messages.errors.library;

export const notFound: RequestHandler = () => {
  throw new HttpError(404, messages.errors.notFound);
};

// Network failures, and Postgres's connection exceptions (class 08) and shutdowns (57P0x).
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE']);
function isDatabaseUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('08') || /^57P0[1-3]$/.test(code))) {
    return true;
  }
  return typeof message === 'string' && /Connection terminated|timeout exceeded when trying to connect/i.test(message);
}

interface LibraryError {
  status?: unknown;
  statusCode?: unknown;
  type?: unknown;
  code?: unknown;
}

function describe(error: unknown): { status: number; message: string; headers: Record<string, string> } {
  if (error instanceof HttpError) return { status: error.status, message: error.message, headers: error.headers };
  const e = (typeof error === 'object' && error !== null ? error : {}) as LibraryError;
  const status = Number(e.status ?? e.statusCode);
  if (Number.isInteger(status) && status >= 400 && status < 500) {
    const key = String(e.type ?? e.code ?? '');
    return { status, message: LIBRARY_MESSAGES[key] ?? messages.errors.otherClientError, headers: {} };
  }
  if (isDatabaseUnavailable(error)) {
    return {
      status: 503,
      message: messages.errors.unavailable,
      headers: { 'Retry-After': '30' },
    };
  }
  return { status: 500, message: messages.errors.internal, headers: {} };
}

/** The one error handler: renders every error page; 5xx detail goes to the log, never to the page. */
export const errorHandler: ErrorRequestHandler = (error, req, res, _next) => {
  const { status, message, headers } = describe(error);
  if (status >= 500) req.log.error({ err: error }, 'request failed');
  if (res.headersSent) {
    res.end();
    return;
  }
  res.status(status).set(headers).set('Cache-Control', 'no-store');
  res.render('error.njk', { title: title(status), status, message }, (renderError, html) => {
    if (renderError) {
      req.log.error({ err: renderError }, 'error page failed to render');
      res.type('text/plain').send(`${status} ${title(status)}`);
      return;
    }
    res.send(html);
  });
};
