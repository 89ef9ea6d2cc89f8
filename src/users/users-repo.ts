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
  };
}

export type UsersRepo = ReturnType<typeof usersRepo>;
