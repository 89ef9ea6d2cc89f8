import { Router } from 'express';
import { type Db, isDatabaseUp } from '../db/database.js';

/** For load balancers and orchestrators: no session, no HTML. */
export function healthRoutes(db: Db): Router {
  const router = Router();
  router.get('/healthz', async (_req, res) => {
    const up = await isDatabaseUp(db);
    res
      .status(up ? 200 : 503)
      .set('Cache-Control', 'no-store')
      .json({ status: up ? 'ok' : 'unavailable' });
  });
  return router;
}
