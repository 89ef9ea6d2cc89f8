import { Routes } from '../http/routes.js';
import type { SessionsFlow } from '../flows/sessions.js';
import { parseFixedForm } from '../forms/parse-form.js';
import { endSession } from '../http/current-user.js';
import { originOf } from '../http/request-origin.js';
import { flash } from '../http/flash.js';
import { messages } from '../messages.js';
import { browserName } from '../sessions/browser-name.js';
import { buttonForm, pageQuery } from '../forms/fields.js';
import { endSessionForm } from './account-forms.js';

const SESSIONS_PER_PAGE = 20;

/** "My sessions": every open session of the user, each one can be ended, or all but this one. */
export function sessionsRoutes(sessions: SessionsFlow): Routes {
  const routes = new Routes();

  routes.get('/account/sessions', async (req, res) => {
    const { user } = req;
    const page = pageQuery.parse(req.query).page ?? 1;
    const { sessions: open, total } = await sessions.openSessions(
      user.id,
      req.sessionID,
      SESSIONS_PER_PAGE,
      (page - 1) * SESSIONS_PER_PAGE,
    );
    const pages = Math.max(1, Math.ceil(total / SESSIONS_PER_PAGE));
    if (page > pages) return res.redirect(303, `/account/sessions?page=${pages}`);
    res.render('account/sessions.njk', {
      sessions: open.map((session) => ({ ...session, browser: browserName(session.userAgent) })),
      // This browser's session is always among them (it is what asked).
      others: total - 1,
      total,
      page,
      pages,
    });
  });

  routes.post('/account/sessions/end', async (req, res) => {
    const { user } = req;
    const form = parseFixedForm(endSessionForm, req.body);
    // Another user's session id matches nothing: it reads as one that has already ended.
    const ended = await sessions.endSession(user.id, form.id, req.sessionID, originOf(req));
    if (ended.ok && ended.current) {
      await endSession(req);
      flash(res, 'info', messages.logout.loggedOut);
      return res.redirect(303, '/login');
    }
    flash(res, 'info', ended.ok ? messages.sessions.ended : messages.sessions.alreadyEnded);
    res.redirect(303, '/account/sessions');
  });

  routes.post('/account/sessions/end-others', async (req, res) => {
    const { user } = req;
    parseFixedForm(buttonForm, req.body);
    const ended = await sessions.endOtherSessions(user.id, req.sessionID, originOf(req));
    flash(res, 'success', ended === 0 ? messages.sessions.noOthers : messages.sessions.signedOutEverywhere(ended));
    res.redirect(303, '/account/sessions');
  });

  return routes;
}
