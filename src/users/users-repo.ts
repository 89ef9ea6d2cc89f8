import type { Db } from '../db/database.js';

export interface User {
  readonly id: number;
  readonly name: string;
  readonly email: string;
  readonly website: string | null;
  readonly isActive: boolean;
  readonly createdAt: Date;
  readonly lastLoginAt: Date | null;
  /** When the address was last proven by following a link sent to it; null until then. */
  readonly emailVerifiedAt: Date | null;
  /** An address asked for, not yet proven: the email changes when its link is followed. */
  readonly pendingEmail: string | null;
  /** False for an account made by an identity provider until its owner sets a password. */
  readonly hasPassword: boolean;
}

export interface UserWithHash extends User {
  /** Null for an account made by an identity provider until its owner sets a password. */
  readonly passwordHash: string | null;
}

interface UserRow {
  id: number;
  name: string;
  email: string;
  password_hash: string | null;
  website: string | null;
  is_active: boolean;
  created_at: Date;
  last_login_at: Date | null;
  email_verified_at: Date | null;
  pending_email: string | null;
  has_password: boolean;
}

const UNIQUE_VIOLATION = '23505';

const toUser = (row: UserRow): UserWithHash => ({
  id: row.id,
  name: row.name,
  email: row.email,
  passwordHash: row.password_hash,
  website: row.website,
  isActive: row.is_active,
  createdAt: row.created_at,
  lastLoginAt: row.last_login_at,
  emailVerifiedAt: row.email_verified_at,
  pendingEmail: row.pending_email,
  hasPassword: row.has_password,
});

/** The user as the rest of the app sees it: the hash stays with the code that checks passwords. */
export const withoutHash = ({ passwordHash: _hash, ...user }: UserWithHash): User => user;

const PUBLIC_COLUMNS = [
  'id',
  'name',
  'email',
  'website',
  'is_active',
  'created_at',
  'last_login_at',
  'email_verified_at',
  'pending_email',
  'has_password',
] as const;

/** The public columns and the hash: what this repo reads, for the code that checks passwords. */
const COLUMNS = [...PUBLIC_COLUMNS, 'password_hash'].join(', ');

type PublicUserRow = Omit<UserRow, 'password_hash'>;

/**
 * The user's columns (never the hash) as `alias.column`, for a query of another repo that joins
 * users: the sessions repo loads a session and its user in one statement, the passkeys repo a
 * passkey and its owner. Named `prefix` + column when the other table has an id or a name too.
 * Read them back with userFromJoin, with the same prefix.
 */
export const userColumnsOf = (alias: string, prefix = ''): string =>
  PUBLIC_COLUMNS.map((column) => `${alias}.${column}${prefix === '' ? '' : ` AS ${prefix}${column}`}`).join(', ');

/** The user in a row selected with userColumnsOf, or null when the join found none. */
export function userFromJoin(row: Partial<PublicUserRow> | Record<string, unknown>, prefix = ''): User | null {
  const columns = (
    prefix === ''
      ? row
      : Object.fromEntries(PUBLIC_COLUMNS.map((column) => [column, (row as Record<string, unknown>)[prefix + column]]))
  ) as Partial<PublicUserRow>;
  if (columns.id === null || columns.id === undefined) return null;
  return withoutHash(toUser({ ...(columns as PublicUserRow), password_hash: '' }));
}

export interface NewUser {
  readonly name: string;
  readonly email: string;
  /** Null: no password (an account made by an identity provider). */
  readonly passwordHash: string | null;
  readonly website: string | null;
}

export function usersRepo(db: Db) {
  /** With the hash, for re-checking the password of a signed-in (active) user. */
  async function findActiveWithHash(id: number): Promise<UserWithHash | null> {
    const { rows } = await db.query<UserRow>(`SELECT ${COLUMNS} FROM users WHERE id = $1 AND is_active`, [id]);
    return rows[0] ? toUser(rows[0]) : null;
  }

  return {
    /** Inserts the user, logged in from the start; null when the email is taken (any case). */
    async insert(user: NewUser): Promise<User | null> {
      const { rows } = await db.query<UserRow>(
        `INSERT INTO users (name, email, password_hash, website, last_login_at)
         VALUES ($1, $2, $3, $4, now())
         ON CONFLICT ((lower(email))) DO NOTHING
         RETURNING ${COLUMNS}`,
        [user.name, user.email, user.passwordHash, user.website],
      );
      return rows[0] ? withoutHash(toUser(rows[0])) : null;
    },

    async findByEmail(email: string): Promise<UserWithHash | null> {
      // Postgres text cannot hold NUL (the query would fail), and no stored email is longer.
      if (email.includes('\u0000') || email.length > 254) return null;
      const { rows } = await db.query<UserRow>(`SELECT ${COLUMNS} FROM users WHERE lower(email) = lower($1)`, [email]);
      return rows[0] ? toUser(rows[0]) : null;
    },

    async findActiveById(id: number): Promise<User | null> {
      const found = await findActiveWithHash(id);
      return found ? withoutHash(found) : null;
    },

    async recordLogin(id: number): Promise<void> {
      await db.query('UPDATE users SET last_login_at = now() WHERE id = $1', [id]);
    },

    findActiveWithHash,

    /** Locks the user's row until the transaction ends: changes to its ways in are made one at a time. */
    async lockForChange(id: number): Promise<void> {
      await db.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [id]);
    },

    /** Whether the account has a password (one made by an identity provider may not). */
    async hasPassword(id: number): Promise<boolean> {
      const { rows } = await db.query<{ has: boolean }>(
        'SELECT password_hash IS NOT NULL AS has FROM users WHERE id = $1',
        [id],
      );
      return rows[0]?.has ?? false;
    },

    async updateProfile(id: number, name: string, website: string | null): Promise<void> {
      await db.query('UPDATE users SET name = $2, website = $3 WHERE id = $1', [id, name, website]);
    },

    /** Remembers the address the user asked to move to; false when another account has it (any case). */
    async setPendingEmail(id: number, email: string | null): Promise<boolean> {
      const { rowCount } = await db.query(
        `UPDATE users SET pending_email = $2
          WHERE id = $1 AND ($2::text IS NULL OR NOT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($2)))`,
        [id, email],
      );
      return (rowCount ?? 0) > 0;
    },

    /**
     * The address `email` is proven: it becomes the user's address when it is
     * theirs or the one they asked for. 'taken' when another account took it meanwhile.
     */
    async confirmEmail(id: number, email: string): Promise<'confirmed' | 'changed' | 'stale' | 'taken'> {
      try {
        const { rows } = await db.query<{ changed: boolean }>(
          `UPDATE users SET email_verified_at = now(),
                  email = CASE WHEN lower(pending_email) = lower($2) THEN pending_email ELSE email END,
                  pending_email = CASE WHEN lower(pending_email) = lower($2) THEN NULL ELSE pending_email END
            WHERE id = $1 AND is_active AND (lower(email) = lower($2) OR lower(pending_email) = lower($2))
           RETURNING lower(email) <> lower((SELECT email FROM users WHERE id = $1)) AS changed`,
          // (The subquery in RETURNING reads the row as it was before this UPDATE.)
          [id, email],
        );
        if (!rows[0]) return 'stale';
        return rows[0].changed ? 'changed' : 'confirmed';
      } catch (error) {
        if ((error as { code?: string }).code === UNIQUE_VIOLATION) return 'taken';
        throw error;
      }
    },

    /** Drops an address the user asked to move to; the address that was pending, or null when none was. */
    async cancelPendingEmail(id: number): Promise<string | null> {
      const { rows } = await db.query<{ pending_email: string }>(
        `UPDATE users u SET pending_email = NULL FROM users old
          WHERE u.id = $1 AND old.id = u.id AND u.pending_email IS NOT NULL
         RETURNING old.pending_email`,
        [id],
      );
      return rows[0]?.pending_email ?? null;
    },

    /**
     * Puts the address back after a change the owner says was not theirs: `to` becomes `from`
     * again (proven, since its owner followed a link mailed to it). 'stale' when the account's
     * address is no longer `to`; 'taken' when another account has `from` by now.
     */
    async revertEmail(id: number, to: string, from: string): Promise<'reverted' | 'stale' | 'taken'> {
      try {
        const { rowCount } = await db.query(
          `UPDATE users SET email = $3, email_verified_at = now(), pending_email = NULL
            WHERE id = $1 AND lower(email) = lower($2)`,
          [id, to, from],
        );
        return (rowCount ?? 0) > 0 ? 'reverted' : 'stale';
      } catch (error) {
        if ((error as { code?: string }).code === UNIQUE_VIOLATION) return 'taken';
        throw error;
      }
    },

    /**
     * The user's WebAuthn user handle (what a passkey stores as its user), made on first use:
     * 32 random bytes, never the numeric id. One statement, so two first uses agree. For adding
     * a passkey only: signing in reads the handle with the passkey, and writes nothing.
     */
    async webauthnHandle(id: number, fresh: Buffer): Promise<Buffer | null> {
      const { rows } = await db.query<{ webauthn_handle: Buffer }>(
        'UPDATE users SET webauthn_handle = coalesce(webauthn_handle, $2) WHERE id = $1 RETURNING webauthn_handle',
        [id, fresh],
      );
      return rows[0]?.webauthn_handle ?? null;
    },

    /** A new password; the device key changes with it, so no browser trusted before stays trusted. */
    async updatePasswordHash(id: number, passwordHash: string): Promise<void> {
      await db.query('UPDATE users SET password_hash = $2, device_key = gen_random_uuid() WHERE id = $1', [
        id,
        passwordHash,
      ]);
    },

    /** The key an active account's device cookies are signed under (it changes with the password); null for none. */
    async deviceKeyOf(email: string): Promise<string | null> {
      if (email.includes('\u0000') || email.length > 254) return null;
      const { rows } = await db.query<{ device_key: string }>(
        'SELECT device_key::text AS device_key FROM users WHERE lower(email) = lower($1) AND is_active',
        [email],
      );
      return rows[0]?.device_key ?? null;
    },

    /** True when the user's active flag changed. */
    async setActive(id: number, active: boolean): Promise<boolean> {
      const { rowCount } = await db.query('UPDATE users SET is_active = $2 WHERE id = $1 AND is_active <> $2', [
        id,
        active,
      ]);
      return (rowCount ?? 0) > 0;
    },

    async delete(id: number): Promise<boolean> {
      const { rowCount } = await db.query('DELETE FROM users WHERE id = $1', [id]);
      return (rowCount ?? 0) > 0;
    },

    /** A page of users, newest first, and how many there are in all. */
    async page(limit: number, offset: number): Promise<{ users: User[]; total: number }> {
      const { rows } = await db.query<UserRow & { total: number }>(
        `SELECT ${COLUMNS}, count(*) OVER ()::int AS total FROM users ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2`,
        [limit, offset],
      );
      const total =
        rows[0]?.total ?? (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM users')).rows[0]?.n ?? 0;
      return { users: rows.map((row) => withoutHash(toUser(row))), total };
    },
  };
}

export type UsersRepo = ReturnType<typeof usersRepo>;
