// The two page references of `npm run bench`, each a bare Express 5 app (no middleware at all) on
// the checkout's own packages, in one process of their own on 127.0.0.1, each on a free port of
// its own (printed as one JSON line on stdout: {"plain": port, "oneQuery": port}):
// - plain page: GET / renders Gatehouse's own views/login.njk, through the same nunjucks
//   environment (dist/http/views.js: its loader, filters and cache), with fixed data;
// - one-query page: GET /<id> runs one SELECT by primary key (the user's public columns) over a
//   pool made as Gatehouse makes its own (dist/db/database.js: pg, ten connections, its type
//   parsers), on the deployed process's database, then renders views/dashboard.njk.
// Plain JavaScript on the compiled app, so that it runs as node runs dist/server.js; bench/run.ts
// starts it with the same node flags as package.json's "start" script. The database: DATABASE_URL
// (real Postgres) or, for the embedded one, PGHOST (the deployed process's socket directory) and PGPORT.
import process from 'node:process';
import express from 'express';
import pg from 'pg';
import { useViews } from '../dist/http/views.js';
import { openDatabase } from '../dist/db/database.js';

// Tokens of the lengths Gatehouse's are; the templates print them in their forms: a visitor's (a
// 128-bit HMAC in base64url) on the login page, a session's (csrf-sync: 128 bytes in hex) on the dashboard.
const VISITOR_TOKEN = 'x'.repeat(22);
const SESSION_TOKEN = 'x'.repeat(256);
const fixed = {
  currentUser: null,
  csrfToken: () => VISITOR_TOKEN,
  takeFlashes: () => [],
  passkeysAvailable: true,
};

const plain = express();
plain.disable('x-powered-by');
plain.set('etag', false);
useViews(plain, false);
const loginView = {
  ...fixed,
  values: { next: '' },
  errors: {},
  waysIn: [{ path: '/login/code', label: 'Email me a code instead' }],
};
plain.get('/', (_req, res) => {
  res.render('login.njk', loginView);
});

const pool = process.env.DATABASE_URL
  ? (await openDatabase({ url: process.env.DATABASE_URL, dataDir: '.' })).pool
  : new pg.Pool({
      host: process.env.PGHOST,
      port: Number(process.env.PGPORT),
      user: 'postgres',
      database: 'postgres',
      // The embedded database's socket takes the deployed pool's ten connections and two more
      // (one is the runner's); it serves one statement at a time whatever the pool.
      max: 1,
    });
pool.on('error', () => {});
const SELECT =
  'SELECT id, name, email, website, is_active, created_at, last_login_at, email_verified_at, pending_email FROM users WHERE id = $1';

const oneQuery = express();
oneQuery.disable('x-powered-by');
oneQuery.set('etag', false);
useViews(oneQuery, false);
oneQuery.get('/:id', async (req, res) => {
  const { rows } = await pool.query(SELECT, [Number(req.params.id)]);
  const row = rows[0];
  if (!row) {
    res.status(404).send('no such user');
    return;
  }
  res.render('dashboard.njk', {
    ...fixed,
    csrfToken: () => SESSION_TOKEN,
    currentUser: {
      id: row.id,
      name: row.name,
      email: row.email,
      website: row.website,
      isActive: row.is_active,
      createdAt: row.created_at,
      lastLoginAt: row.last_login_at,
      emailVerifiedAt: row.email_verified_at,
      pendingEmail: row.pending_email,
    },
  });
});

const listen = (app) =>
  new Promise((resolve, reject) => {
    const server = app.listen(0, '127.0.0.1', (error) => (error ? reject(error) : resolve(server)));
  });
const servers = await Promise.all([listen(plain), listen(oneQuery)]).catch((error) => {
  process.stderr.write(`the references could not listen: ${error.message}\n`);
  process.exit(1);
});
process.stdout.write(`${JSON.stringify({ plain: servers[0].address().port, oneQuery: servers[1].address().port })}\n`);

const stop = () => {
  for (const server of servers) {
    server.close();
    server.closeAllConnections();
  }
  void pool.end().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
