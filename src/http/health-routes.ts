import { type Db, isDatabaseUp } from '../db/database.js';
import { Routes } from './routes.js';

/** For load balancers and orchestrators: no session, no HTML. Mounted before the session. */
export function healthRoutes(db: Db): Routes {
  return new Routes().public.get('/healthz', async (_req, res) => {
    const up = await isDatabaseUp(db);
    res
      .status(up ? 200 : 503)
      .set('Cache-Control', 'no-store')
      .json({ status: up ? 'ok' : 'unavailable' });
  });
}
