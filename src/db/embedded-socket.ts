import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';

// Where the embedded Postgres (src/db/embedded.ts) serves its unix socket. Kept apart from it, with
// no PGlite import, so that a client (the bench) can find the socket without loading PGlite.

/** The port that names the socket file (.s.PGSQL.<port>) in the socket directory. */
export const SOCKET_PORT = 5432;
// sun_path is 108 bytes on Linux; keep a margin for the socket file name.
const MAX_SOCKET_DIR = 90;

/** The socket directory for a data directory: itself, or a short one in tmpdir() when its path is too long. */
export function socketDirFor(dataDir: string): string {
  if (dataDir.length <= MAX_SOCKET_DIR) return dataDir;
  const digest = createHash('sha256').update(dataDir).digest('hex').slice(0, 16);
  return path.join(tmpdir(), `gatehouse-${digest}`);
}
