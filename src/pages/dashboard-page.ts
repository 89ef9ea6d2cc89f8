import { page } from '../http/page.js';

/** The dashboard: who you are, and links to everything about your account. */
export default page((routes) => {
  routes.get('/', (_req, res) => {
    res.render('dashboard.njk');
  });
});
