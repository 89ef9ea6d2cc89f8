import { AsyncLocalStorage } from 'node:async_hooks';
import type pg from 'pg';
import type { Db } from './database.js';

export interface Transactions {
  /**
   * The database the repos are built on: inside `atomically`, the transaction's connection;
   * anywhere else, the pool. So a use case's repos join its transaction without being told.
   */
  readonly db: Db;
  /**
   * Runs `work` as one transaction: every statement it makes through `db` commits together, or,
   * when anything in it throws, none does (and the error goes on to the caller). A call inside
   * another joins the outer one. Work that is not the database's (bcrypt) belongs before it: the
   * transaction holds a connection, and on the embedded Postgres every other connection waits.
   */
  atomically<T>(work: () => Promise<T>): Promise<T>;
  /**
   * Runs `work`, which may fail without failing the change around it (a notice that cannot be
   * queued): inside a transaction, under a savepoint, so its failure undoes only its own statements.
   */
  optional<T>(work: () => Promise<T>): Promise<T>;
}

/**
 * One transaction per change (Django's `atomic`, better-auth's `runWithTransaction`): the
 * connection of the transaction in progress travels with the async context, as theirs does.
 */
export function transactions(pool: pg.Pool): Transactions {
  const current = new AsyncLocalStorage<pg.PoolClient>();

  const db: Db = {
    query: (statement, values) => (current.getStore() ?? pool).query(statement, values),
  };

  async function atomically<T>(work: () => Promise<T>): Promise<T> {
    if (current.getStore()) return work();
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await current.run(client, work);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      // A connection that cannot even roll back is dropped rather than given to the next request.
      await client.query('ROLLBACK').catch((rollbackError: unknown) => {
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      });
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async function optional<T>(work: () => Promise<T>): Promise<T> {
    const client = current.getStore();
    if (!client) return work();
    await client.query('SAVEPOINT optional');
    try {
      const result = await work();
      await client.query('RELEASE SAVEPOINT optional');
      return result;
    } catch (error) {
      await client.query('ROLLBACK TO SAVEPOINT optional');
      throw error;
    }
  }

  return { db, atomically, optional };
}
