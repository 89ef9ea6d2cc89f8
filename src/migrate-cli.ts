import { ConfigError, loadConfig } from './config.js';
import { openDatabase } from './db/database.js';
import { EmbeddedLockedError } from './db/embedded-locked-error.js';
import { migrate } from './db/migrate.js';

/** `npm run migrate`: applies pending migrations and exits; non-zero if any fails. */
async function main(): Promise<void> {
  const config = loadConfig();
  const db = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, poolSize: 1 });
  try {
    const applied = await migrate(db.pool);
    process.stdout.write(applied.length ? `Applied: ${applied.join(', ')}\n` : 'No pending migrations.\n');
  } finally {
    await db.close();
  }
}

main().catch((error: unknown) => {
  const known = error instanceof ConfigError || error instanceof EmbeddedLockedError;
  process.stderr.write(
    `${known ? '' : 'Migration failed: '}${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
