import type { Server, ServerResponse } from 'node:http';
import { ConfigError, loadConfig } from './config.js';
import { createApp } from './app.js';
import { appServer } from './http/app-server.js';
import { openDatabase } from './db/database.js';
import { EmbeddedLockedError } from './db/embedded-locked-error.js';
import { migrateInWorker } from './db/migrate-in-worker.js';
import { createLogger } from './http/logging.js';
import { sessionSecrets } from './http/session-secret.js';
import { createMailer } from './mail/mail-queue.js';

/** A failure to start that one line explains. */
class StartupError extends Error {}

/** config → database → migrate → app → listen; on SIGINT/SIGTERM, drain and close in reverse. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const db = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
  try {
    const applied = await migrateInWorker(db.connection, db.pool);
    if (applied.length > 0) logger.info({ applied }, 'migrations applied');
  } catch (error) {
    await db.close();
    throw error;
  }
  const secrets = sessionSecrets(config);
  const mailer = createMailer({ config, pool: db.pool, logger, secrets });
  const { app, close } = await createApp({ config, db, logger, sessionSecrets: secrets, mailer });

  const server: Server = appServer(app).listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  }).catch(async (error: unknown) => {
    await close();
    await db.close();
    const inUse = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
    throw inUse ? new StartupError(`PORT ${config.port} on ${config.host} is already in use.`) : error;
  });
  // Mail queued by an earlier run (or another instance) goes out from now on.
  mailer.start();
  logger.info(
    { database: db.embedded ? `embedded (${config.dataDir})` : 'postgres' },
    `Gatehouse listening on http://${config.host}:${config.port}`,
  );

  // Responses in flight: at shutdown each is told to close its connection, or a
  // client that keeps its connection alive (a proxy) would hold server.close() open.
  let stopping = false;
  const inFlight = new Set<ServerResponse>();
  server.on('request', (_req, res: ServerResponse) => {
    if (stopping) res.setHeader('Connection', 'close');
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
  });
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
    server.close(() => {
      // The worker finishes the message in flight before the pool it uses closes.
      void close()
        .then(() => mailer.stop())
        .then(() => db.close())
        .then(() => process.exit(0));
    });
    server.closeIdleConnections();
    setTimeout(() => process.exit(1), 10_000).unref();
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  // One line, never a stack trace: expected failures explain themselves, others name their cause.
  if (error instanceof ConfigError || error instanceof EmbeddedLockedError || error instanceof StartupError) {
    process.stderr.write(`${error.message}\n`);
  } else {
    process.stderr.write(`Gatehouse could not start: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  process.exit(1);
});
