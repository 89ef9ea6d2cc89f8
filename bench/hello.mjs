// The bare ceiling for `npm run bench`: an Express 5 app with one route that answers "hello", in a
// process of its own on 127.0.0.1 (a free port, printed as one JSON line on stdout). Plain
// JavaScript, so that it runs as node runs dist/server.js: no TypeScript loader in the process.
// bench/run.ts starts it with the same node flags as package.json's "start" script.
import process from 'node:process';
import express from 'express';

const app = express();
app.disable('x-powered-by');
app.get('/', (_req, res) => {
  res.send('hello');
});

const server = app.listen(0, '127.0.0.1', (error) => {
  if (error) {
    process.stderr.write(`hello could not listen: ${error.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});

const stop = () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
