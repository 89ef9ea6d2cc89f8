import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * Middlewares run one after another as one: what the router would do with each of them mounted
 * on its own (app.use) at "/", without its per-layer work (path matching, parameter and URL
 * bookkeeping) for every one on every request. As in Express 5, an error passed to next, thrown,
 * or a rejected promise goes on to the error handlers, and the rest of the chain is skipped.
 */
export interface Chain extends RequestHandler {
  /** What it runs, in order (for a test that reads what the app routes). */
  readonly handlers: readonly RequestHandler[];
}

export function chain(...handlers: readonly RequestHandler[]): Chain {
  const run = (req: Request, res: Response, done: NextFunction) => {
    let index = 0;
    const step = (error?: unknown): void => {
      if (error) {
        // 'route' and 'router' mean the same as for any middleware mounted with app.use.
        if (error === 'route') step();
        else done(error);
        return;
      }
      const handler = handlers[index++];
      if (handler === undefined) {
        done();
        return;
      }
      try {
        const result: unknown = handler(req, res, step);
        if (result instanceof Promise) {
          result.then(undefined, (rejected: unknown) => done(rejected ?? new Error('Rejected promise')));
        }
      } catch (thrown) {
        done(thrown);
      }
    };
    step();
  };
  return Object.assign(run, { handlers });
}
