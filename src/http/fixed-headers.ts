import type { Request, RequestHandler, Response } from 'express';

/**
 * A middleware that sets the same headers on every response (helmet's, as configured: none of
 * them depends on the request), run once at start-up against a stand-in response to learn what
 * it sets and removes; every request then gets those, in the same order, without its chain of
 * a dozen middlewares. Start-up fails if it does anything else.
 */
export function fixedHeaders(middleware: RequestHandler): RequestHandler {
  const steps: ({ set: string; value: string | number | readonly string[] } | { remove: string })[] = [];
  let nextCalled = false;
  const stand = {
    setHeader: (name: string, value: string | number | readonly string[]) => {
      steps.push({ set: name, value });
      return stand;
    },
    removeHeader: (name: string) => {
      steps.push({ remove: name });
    },
  };
  const request = { method: 'GET', url: '/', headers: {} };
  void middleware(request as unknown as Request, stand as unknown as Response, (error?: unknown) => {
    if (error) throw error instanceof Error ? error : new Error(String(error));
    nextCalled = true;
  });
  if (!nextCalled) throw new Error('fixedHeaders: the middleware did not go on at once');
  return (_req, res, next) => {
    for (const step of steps) {
      if ('set' in step) res.setHeader(step.set, step.value);
      else res.removeHeader(step.remove);
    }
    next();
  };
}
