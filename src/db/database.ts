import pg from 'pg';

/**
 * A statement Postgres parses and plans once per connection, then runs by name (pg's named
 * statements): for the one every logged-in page view runs. Its text never changes (pg refuses a
 * name given two texts) and names its columns, so a later migration that adds one changes nothing.
 */
export interface PreparedStatement {
  readonly name: string;
  readonly text: string;
}

/** What repos need: something that runs a parameterised query (the pool, or a client in a transaction). */
export interface Db {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    statement: string | PreparedStatement,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
}

export interface Database {
  readonly pool: pg.Pool;
  /** How the pool connects, for a worker thread that needs a connection of its own (migrations). */
  readonly connection: ConnectionOptions;
  readonly embedded: boolean;
  close(): Promise<void>;
}

/** What a pg client needs to reach the database (plain data: it can cross to a worker thread). */
export interface ConnectionOptions {
  readonly connectionString?: string;
  readonly host?: string;
  readonly port?: number;
  readonly user?: string;
  readonly database?: string;
}

export interface DatabaseOptions {
  /** A postgres:// URL; without one, an embedded Postgres in dataDir (always one connection: see below). */
  readonly url: string | undefined;
  readonly dataDir: string;
  readonly poolSize?: number;
}

// pg returns bigint (int8) as a string; our ids fit in a JS number comfortably.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number.parseInt(value, 10));

const namedQuery = pg.Client.prototype.query;
/**
 * A client of the embedded database, which sends every statement unnamed. PGlite is one backend
 * behind all its connections: a statement prepared by name outlives the connection that prepared
 * it, and the next connection to prepare that name (the pool's one connection, replaced after it
 * idled) would be refused.
 */
class OneBackendClient extends pg.Client {}
OneBackendClient.prototype.query = function (this: pg.Client, config: unknown, ...rest: unknown[]) {
  const unnamed =
    typeof config === 'object' && config !== null && 'name' in config ? { ...config, name: undefined } : config;
  return Reflect.apply(namedQuery, this, [unnamed, ...rest]) as unknown;
} as typeof namedQuery;

export async function openDatabase({ url, dataDir, poolSize = 10 }: DatabaseOptions): Promise<Database> {
  if (url !== undefined) {
    // Without a connect timeout a request would wait forever on an unreachable server.
    const connection: ConnectionOptions = { connectionString: url };
    const pool = new pg.Pool({ ...connection, max: poolSize, connectionTimeoutMillis: 5000 });
    pool.on('error', () => {
      // An idle client lost its connection; the pool replaces it. Without this
      // listener the error would crash the process.
    });
    return { pool, connection, embedded: false, close: () => pool.end() };
  }

  // PGlite (a Postgres compiled to WebAssembly, megabytes of code) is loaded only here, when it is
  // used: a process on a real Postgres never holds it in memory.
  const { startEmbeddedPostgres } = await import('./embedded.js');
  // The socket server queues every connection onto PGlite's one backend; it
  // must accept at least as many connections as the pool opens.
  const embedded = await startEmbeddedPostgres(dataDir, poolSize + 2);
  const connection: ConnectionOptions = {
    host: embedded.socketDir,
    port: embedded.port,
    user: 'postgres',
    database: 'postgres',
  };
  // One connection: PGlite is one backend, so a second connection adds no parallelism, and the
  // socket server's interleaving of several connections' transactions can stall every one of
  // them (a burst of sign-ups, each a transaction, hung the embedded database). With one, the
  // pool's own queue takes turns, and a transaction's statements are the only ones it runs.
  const pool = new pg.Pool({ ...connection, max: 1, Client: OneBackendClient });
  pool.on('error', () => {});
  return {
    pool,
    connection,
    embedded: true,
    async close() {
      await pool.end();
      await embedded.stop();
    },
  };
}

/** True when the database answers a trivial query within the time limit. */
export async function isDatabaseUp(db: Db, timeoutMs = 2000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([db.query('SELECT 1').then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
