import { buttonForm } from '../forms/fields.js';
import { parseFixedForm } from '../forms/parse-form.js';
import { page } from '../http/page.js';
import { requireRecentLogin } from '../http/recent-login.js';
import { originOf } from '../http/request-origin.js';

/** Minutes since the login (or since confirming it is you) within which the export opens. */
const FRESH_MINUTES = 10;

/**
 * /account/export: everything Gatehouse keeps about the user, as a JSON download (GDPR articles
 * 15 and 20). It opens only to a recent login, since a session stolen later must not carry the
 * user's history away, and each download is written to the audit trail.
 */
export default page((routes, { personalData, profile }) => {
  routes.get('/account/export', requireRecentLogin(FRESH_MINUTES), (_req, res) => {
    res.render('pages/export.njk');
  });

  routes.post('/account/export', requireRecentLogin(FRESH_MINUTES), async (req, res) => {
    parseFixedForm(buttonForm, req.body);
    const data = await personalData.of(req.user, req.sessionID);
    await profile.dataExported(req.user.id, originOf(req));
    const day = data.exported_at.slice(0, 10);
    res
      .type('application/json')
      .attachment(`gatehouse-data-${day}.json`)
      .send(`${JSON.stringify(data, null, 2)}\n`);
  });
});
