import { Router } from 'express';
import { requireLogin } from '../auth/current-user.js';

export function dashboardRoutes(): Router {
  const router = Router();
  router.get('/', requireLogin, (_req, res) => {
    res.render('dashboard.njk');
  });
  return router;
}
