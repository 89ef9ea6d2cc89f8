import http from 'node:http';
import type { Express, Request, Response } from 'express';

interface Classes {
  readonly IncomingMessage: typeof http.IncomingMessage;
  readonly ServerResponse: typeof http.ServerResponse;
}
const made = new WeakMap<Express, Classes>();

/**
 * Node's request and response classes for `app`, made once per app: subclasses of Node's own whose
 * prototypes sit in front of the app's request and response prototypes (so Express's methods, then
 * Node's, are found as before), and which the app then takes as its request and response prototypes.
 *
 * Why: Express gives every request and response its prototypes as it takes them
 * (`Object.setPrototypeOf(req, app.request)`). V8 does not remember the shapes (hidden classes)
 * of an object whose prototype was changed after it was made, so each property then added to that
 * request or response (the router's, cookie-parser's, the session's, ours) makes a new shape, and
 * every property read of them misses its inline cache. A request born with the app's prototype
 * already has it: Express's change is then no change (the spec returns early for the same
 * prototype), and every request goes through the same shapes as the last. Nothing else differs:
 * the classes add no fields and no behaviour.
 */
function classesFor(app: Express): Classes {
  const known = made.get(app);
  if (known) return known;
  class AppRequest extends http.IncomingMessage {}
  class AppResponse<R extends http.IncomingMessage = http.IncomingMessage> extends http.ServerResponse<R> {}
  Object.setPrototypeOf(AppRequest.prototype, app.request);
  Object.setPrototypeOf(AppResponse.prototype, app.response);
  // What Express sets each request's prototype to: now the prototype the request already has.
  app.request = AppRequest.prototype as unknown as Request;
  app.response = AppResponse.prototype as unknown as Response;
  const classes: Classes = { IncomingMessage: AppRequest, ServerResponse: AppResponse };
  made.set(app, classes);
  return classes;
}

/**
 * The HTTP server for `app` (not yet listening), as `app.listen()` would make it, whose requests
 * and responses are born with the app's prototypes (see classesFor). npm start and the cluster's
 * workers serve through it.
 */
export function appServer(app: Express): http.Server {
  return http.createServer(classesFor(app), app);
}
