import express, { type Request, type RequestHandler } from 'express';
import { messages } from '../messages.js';
import { HttpError } from './errors.js';

/** Our forms are small; anything bigger is not one of them. */
const FORM_BODY_LIMIT = '16kb';
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Refuses a body that is not well-formed: bytes that are not UTF-8, or a
 * percent-escape that is malformed or decodes to bytes that are not UTF-8.
 * (The parser would otherwise pass such text on quietly mangled.)
 */
function assertWellFormed(_req: unknown, _res: unknown, body: Buffer, encoding: string): void {
  const bad = () => new HttpError(400, messages.errors.notUtf8);
  if (encoding.toLowerCase() !== 'utf-8') throw bad();
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw bad();
  }
  for (const pair of text.split('&')) {
    const parts = pair.split('=');
    for (const part of parts) {
      try {
        decodeURIComponent(part.replace(/\+/g, ' '));
      } catch {
        throw bad();
      }
    }
    // The parser drops a field named __proto__ without a word; it is an unexpected field like any other.
    if (decodeURIComponent((parts[0] ?? '').replace(/\+/g, ' ')) === '__proto__') {
      throw new HttpError(400, messages.errors.malformedForm);
    }
  }
}

const urlencoded = express.urlencoded({
  extended: false,
  limit: FORM_BODY_LIMIT,
  parameterLimit: 20,
  verify: assertWellFormed,
});

/** body-parser's own test (type-is's hasBody): a request with neither header has no body to read. */
const hasBody = (req: Request): boolean =>
  req.headers['transfer-encoding'] !== undefined || !Number.isNaN(Number(req.headers['content-length']));

/**
 * Parses application/x-www-form-urlencoded bodies into flat string fields. A request without a
 * body (every page view) goes straight on, with req.body undefined, as body-parser would leave it.
 */
export const formBody: RequestHandler = (req, res, next) => {
  if (hasBody(req)) {
    urlencoded(req, res, next);
    return;
  }
  if (!Reflect.has(req, 'body')) req.body = undefined;
  next();
};
