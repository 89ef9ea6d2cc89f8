import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { EmbeddedLockedError } from './embedded-locked-error.js';
import { SOCKET_PORT, socketDirFor } from './embedded-socket.js';

/** Where pg should connect: a unix socket directory and the port that names the socket file. */
export interface EmbeddedPostgres {
  readonly socketDir: string;
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * Starts PGlite on the files in dataDir and serves it on a unix socket, so the
 * app talks to it through the same pg Pool it uses for a real server.
 * PGlite is one Postgres backend: a lock file keeps a second process out.
 */
export async function startEmbeddedPostgres(dataDir: string, maxConnections: number): Promise<EmbeddedPostgres> {
  mkdirSync(dataDir, { recursive: true });
  const lockPath = path.join(dataDir, 'embedded-postgres.lock');
  takeLock(lockPath, dataDir);
  try {
    const socketDir = socketDirFor(dataDir);
    mkdirSync(socketDir, { recursive: true });
    const socketPath = path.join(socketDir, `.s.PGSQL.${SOCKET_PORT}`);
    // A crash leaves the socket file behind and listen() would fail with EADDRINUSE;
    // the lock above proves no live process owns it.
    rmSync(socketPath, { force: true });

    const db = await PGlite.create(path.join(dataDir, 'pgdata'));
    const server = new PGLiteSocketServer({ db, path: socketPath, maxConnections });
    await server.start();
    return {
      socketDir,
      port: SOCKET_PORT,
      async stop() {
        await server.stop();
        await db.close();
        rmSync(socketDir === dataDir ? socketPath : socketDir, { recursive: true, force: true });
        rmSync(lockPath, { force: true });
      },
    };
  } catch (error) {
    rmSync(lockPath, { force: true });
    throw error;
  }
}

function takeLock(lockPath: string, dataDir: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number.parseInt(readFileSync(lockPath, 'utf8'), 10);
      if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) {
        throw new EmbeddedLockedError(
          `The embedded database in ${dataDir} is in use by another process (pid ${owner}). ` +
            'Stop it, or set DATABASE_URL so several processes can share a real Postgres.',
        );
      }
      rmSync(lockPath, { force: true }); // left by a process that died
    }
  }
  throw new EmbeddedLockedError(`Could not lock the embedded database in ${dataDir}.`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
