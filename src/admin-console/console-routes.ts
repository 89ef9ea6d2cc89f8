import type { Request } from 'express';
import { parseFixedForm } from '../forms/parse-form.js';
import { HttpError } from '../http/errors.js';
import { flash } from '../http/flash.js';
import { originOf } from '../http/request-origin.js';
import { Routes } from '../http/routes.js';
import { messages } from '../messages.js';
import { browserName } from '../sessions/browser-name.js';
import type { ActionRefusal, ConsoleActions } from './console-actions.js';
import { accountIdParam, actionForm, actionParam, confirmQuery, eventsQuery, usersQuery } from './console-forms.js';
import { CONSOLE_PATH } from './console-gate.js';
import type { ConsoleReads } from './console-reads.js';

export interface ConsoleRoutesDeps {
  readonly reads: ConsoleReads;
  readonly actions: ConsoleActions;
}

const notFound = () => new HttpError(404, messages.errors.notFound);
const badQuery = () => new HttpError(400, messages.console.badQuery);

const REFUSALS: Record<ActionRefusal, () => HttpError> = {
  'no-such-user': notFound,
  'no-such-passkey': notFound,
  'own-account': () => new HttpError(403, messages.console.refused.ownAccount),
  'other-admin': () => new HttpError(403, messages.console.refused.otherAdmin),
  inactive: () => new HttpError(409, messages.console.refused.inactive),
  'not-confirmed': () => new HttpError(400, messages.console.refused.notConfirmed),
};

/** The account id and the action in the path; anything else is no page (404). */
function target(req: Request) {
  const id = accountIdParam.safeParse(req.params['id']);
  if (!id.success) throw notFound();
  const action = req.params['action'] === undefined ? null : actionParam.safeParse(req.params['action']);
  if (action && !action.success) throw notFound();
  return { id: id.data, action: action?.data ?? null };
}

/** A link to another page of a list, keeping its filters. */
const pageLink = (path: string, query: Record<string, string | null>, page: number): string => {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value) params.set(key, value);
  if (page > 1) params.set('page', String(page));
  const search = params.toString();
  return search === '' ? path : `${path}?${search}`;
};

const day = (date: Date | null): string => (date === null ? '' : date.toISOString().slice(0, 10));

/**
 * The admin console's pages. Every route here is under /admin, so the console's gate (console-gate.ts,
 * mounted by app.ts ahead of every route) has already let only an admin with a second factor and a
 * recent login through: no handler checks it again. Handlers parse, call a flow, render or redirect.
 */
export function consoleRoutes({ reads, actions }: ConsoleRoutesDeps): Routes {
  const routes = new Routes();

  routes.get(CONSOLE_PATH, (_req, res) => res.redirect(302, `${CONSOLE_PATH}/users`));

  routes.get(`${CONSOLE_PATH}/users`, async (req, res) => {
    const query = usersQuery.safeParse(req.query);
    if (!query.success) throw badQuery();
    const { q, page } = query.data;
    const { entries, more } = await reads.search(req.user, q, page, originOf(req));
    res.render('admin/users.njk', {
      q,
      page,
      entries,
      newer: page > 1 ? pageLink(`${CONSOLE_PATH}/users`, { q }, page - 1) : null,
      older: more ? pageLink(`${CONSOLE_PATH}/users`, { q }, page + 1) : null,
    });
  });

  routes.get(`${CONSOLE_PATH}/users/:id`, async (req, res) => {
    const { id } = target(req);
    const view = await reads.account(req.user, id, originOf(req));
    if (!view) throw notFound();
    const isSelf = view.entry.user.id === req.user.id;
    res.render('admin/user.njk', {
      ...view,
      account: view.entry.user,
      // What the console may do here; the flows check the same rules again when it is done.
      mayAct: !isSelf && !view.entry.isAdmin,
      mayEndSessions: !isSelf,
      isSelf,
      sessions: view.sessions.sessions.map((session) => ({ ...session, browser: browserName(session.userAgent) })),
      sessionsTotal: view.sessions.total,
      events: view.events.map((event) => ({ ...event, what: messages.activity[event.event] })),
    });
  });

  routes.get(`${CONSOLE_PATH}/users/:id/:action`, async (req, res) => {
    const { id, action } = target(req);
    if (action === null) throw notFound();
    const query = confirmQuery.safeParse(req.query);
    if (!query.success) throw notFound();
    const found = await actions.target(req.user, action, id, query.data.passkey ?? null);
    if (!found.ok) throw REFUSALS[found.reason]();
    res.render('admin/confirm.njk', {
      action,
      account: found.entry.user,
      passkey: found.passkey,
      wording: messages.console.actions[action],
    });
  });

  routes.post(`${CONSOLE_PATH}/users/:id/:action`, async (req, res) => {
    const { id, action } = target(req);
    if (action === null) throw notFound();
    const form = parseFixedForm(actionForm, req.body);
    const result = await actions.act(
      req.user,
      action,
      id,
      { confirm: form.confirm ?? null, passkey: form.passkey ?? null },
      originOf(req),
    );
    if (!result.ok) throw REFUSALS[result.reason]();
    const wording = messages.console.actions[action];
    flash(res, result.changed ? 'success' : 'info', result.changed ? wording.done : wording.unchanged);
    res.redirect(303, `${CONSOLE_PATH}/users/${id}`);
  });

  routes.get(`${CONSOLE_PATH}/events`, async (req, res) => {
    const query = eventsQuery.safeParse(req.query);
    if (!query.success) throw badQuery();
    const { filter, page } = query.data;
    const { events, more } = await reads.trail(req.user, filter, page, originOf(req));
    const to = filter.before === null ? null : new Date(filter.before.getTime() - 24 * 60 * 60 * 1000);
    const shown = { kind: filter.kind, email: filter.email, ip: filter.ip, from: day(filter.from), to: day(to) };
    res.render('admin/events.njk', {
      filter: shown,
      kinds: Object.entries(messages.activity).map(([kind, label]) => ({ kind, label })),
      page,
      events: events.map((event) => ({
        ...event,
        what: messages.activity[event.event],
        browser: browserName(event.userAgent),
      })),
      newer: page > 1 ? pageLink(`${CONSOLE_PATH}/events`, shown, page - 1) : null,
      older: more ? pageLink(`${CONSOLE_PATH}/events`, shown, page + 1) : null,
    });
  });

  return routes;
}
