import { pageQuery } from '../forms/fields.js';
import { page } from '../http/page.js';
import { messages } from '../messages.js';
import { browserName } from '../sessions/browser-name.js';

const EVENTS_PER_PAGE = 25;

/** /account/activity: the user's own sign-in history, newest first, a page at a time. */
export default page((routes, { profile }) => {
  routes.get('/account/activity', async (req, res) => {
    const page = pageQuery.parse(req.query).page ?? 1;
    const { events, total } = await profile.activity(req.user.id, EVENTS_PER_PAGE, (page - 1) * EVENTS_PER_PAGE);
    const pages = Math.max(1, Math.ceil(total / EVENTS_PER_PAGE));
    if (page > pages) return res.redirect(303, `/account/activity?page=${pages}`);
    res.render('pages/activity.njk', {
      events: events.map((event) => ({
        ...event,
        what: messages.activity[event.event],
        // Done from the admin console: the owner is told it was an administrator, never which one.
        by: event.actorId === null ? null : messages.activityByAdmin,
        browser: browserName(event.userAgent),
      })),
      total,
      page,
      pages,
    });
  });
});
