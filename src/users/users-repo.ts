import type { Db } from '../db/database.js';

export interface User {
  readonly id: number;
  readonly name: string;
  readonly email: string;
  readonly website: string | null;
  readonly isActive: boolean;
  readonly createdAt: Date;
  readonly lastLoginAt: Date | null;
}

export interface UserWithHash extends User {
  readonly passwordHash: string;
}

interface UserRow {
  id: number;
  name: string;
  email: string;
  password_hash: string;
  website: string | null;
  is_active: boolean;
  created_at: Date;
  last_login_at: Date | null;
}

const UNIQUE_VIOLATION = '23505';

const COLUMNS = 'id, name, email, password_hash, website, is_active, created_at, last_login_at';

const toUser = (row: UserRow): UserWithHash => ({
  id: row.id,
  name: row.name,
  email: row.email,
  passwordHash: row.password_hash,
  website: row.website,
  isActive: row.is_active,
  createdAt: row.created_at,
  lastLoginAt: row.last_login_at,
});

const withoutHash = ({ passwordHash: _hash, ...user }: UserWithHash): User => user;

export interface NewUser {
  readonly name: string;
  readonly email: string;
  readonly passwordHash: string;
  readonly website: string | null;
}

export function usersRepo(db: Db) {
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
      const { rows } = await db.query<UserRow>(`SELECT ${COLUMNS} FROM users WHERE id = $1 AND is_active`, [id]);
      return rows[0] ? withoutHash(toUser(rows[0])) : null;
    },

    async recordLogin(id: number): Promise<void> {
      await db.query('UPDATE users SET last_login_at = now() WHERE id = $1', [id]);
    },

    /** With the hash, for re-checking the password of a signed-in (active) user. */
    async findActiveWithHash(id: number): Promise<UserWithHash | null> {
      const { rows } = await db.query<UserRow>(`SELECT ${COLUMNS} FROM users WHERE id = $1 AND is_active`, [id]);
      return rows[0] ? toUser(rows[0]) : null;
    },

    async updateProfile(id: number, name: string, website: string | null): Promise<void> {
      await db.query('UPDATE users SET name = $2, website = $3 WHERE id = $1', [id, name, website]);
    },

    /** False when another account already has the address (any case). */
    async updateEmail(id: number, email: string): Promise<boolean> {
      try {
        await db.query('UPDATE users SET email = $2 WHERE id = $1', [id, email]);
        return true;
      } catch (error) {
        if ((error as { code?: string }).code === UNIQUE_VIOLATION) return false;
        throw error;
      }
    },

    async updatePasswordHash(id: number, passwordHash: string): Promise<void> {
      await db.query('UPDATE users SET password_hash = $2 WHERE id = $1', [id, passwordHash]);
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
