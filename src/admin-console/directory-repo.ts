import type { Db } from '../db/database.js';
import { type User, userColumnsOf, userFromJoin } from '../users/users-repo.js';

/** An account as the console lists it: the user and what its status column shows. */
export interface DirectoryEntry {
  readonly user: User;
  readonly isAdmin: boolean;
  /** An authenticator app or a passkey. */
  readonly hasSecondFactor: boolean;
}

/** Escapes LIKE's wildcards, so a typed "%" or "_" is matched as itself. */
const likePrefix = (prefix: string): string => `${prefix.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

// The status flags read from the tables that own them (admin_roles, user_totp, passkeys), each an
// index lookup by user id: the console's read model, never written through.
const FLAGS = `EXISTS (SELECT 1 FROM admin_roles r WHERE r.user_id = u.id) AS is_admin,
  (EXISTS (SELECT 1 FROM user_totp t WHERE t.user_id = u.id)
   OR EXISTS (SELECT 1 FROM passkeys p WHERE p.user_id = u.id)) AS has_second_factor`;

type Row = Record<string, unknown> & { is_admin: boolean; has_second_factor: boolean };

const toEntry = (row: Row): DirectoryEntry | null => {
  const user = userFromJoin(row);
  return user ? { user, isAdmin: row.is_admin, hasSecondFactor: row.has_second_factor } : null;
};

/**
 * The admin console's reads of accounts: the search (a prefix of the email or the name, in any
 * case, on the indexes of migration 017) and one account by id, each with its status.
 */
export function directoryRepo(db: Db) {
  return {
    /**
     * A page of the accounts whose email or name starts with `prefix` (every account for ""),
     * newest first, and whether there are more after it. (No total: counting every match of a
     * short prefix on a large table is the slow part, and the pager needs only "more".)
     */
    async search(prefix: string, limit: number, offset: number): Promise<{ entries: DirectoryEntry[]; more: boolean }> {
      // Two texts rather than "$3 IS NULL OR ...", so the planner always sees the LIKE (and its indexes).
      const where = prefix === '' ? '' : 'WHERE lower(u.email) LIKE $3 OR lower(u.name) LIKE $3';
      const { rows } = await db.query<Row>(
        `SELECT ${userColumnsOf('u')}, ${FLAGS} FROM users u ${where}
          ORDER BY u.created_at DESC, u.id DESC
          LIMIT $1 OFFSET $2`,
        prefix === '' ? [limit + 1, offset] : [limit + 1, offset, likePrefix(prefix)],
      );
      const entries = rows.slice(0, limit).flatMap((row) => toEntry(row) ?? []);
      return { entries, more: rows.length > limit };
    },

    /** The account with this id, active or not, or null. */
    async find(id: number): Promise<DirectoryEntry | null> {
      const { rows } = await db.query<Row>(`SELECT ${userColumnsOf('u')}, ${FLAGS} FROM users u WHERE u.id = $1`, [id]);
      return rows[0] ? toEntry(rows[0]) : null;
    },
  };
}

export type DirectoryRepo = ReturnType<typeof directoryRepo>;
