import { Router } from 'express';
import { requireLogin } from '../auth/current-user.js';
import { methodNotAllowed } from '../http/errors.js';

export function dashboardRoutes(): Router {
  const router = Router();
  router.get('/', requireLogin, (_req, res) => {
    res.render('dashboard.njk');
  });
  router.all('/', methodNotAllowed(['GET', 'HEAD']));
  return router;
}
