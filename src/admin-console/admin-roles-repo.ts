import type { Db } from '../db/database.js';

/**
 * Every SQL statement on admin_roles: who is an admin. Written only by the admin command
 * (admin:grant, admin:revoke); the console only reads it.
 */
export function adminRolesRepo(db: Db) {
  return {
    async isAdmin(userId: number): Promise<boolean> {
      const { rows } = await db.query('SELECT 1 FROM admin_roles WHERE user_id = $1', [userId]);
      return rows.length > 0;
    },

    /** When the user was made an admin, or null when they are not one. */
    async grantedAt(userId: number): Promise<Date | null> {
      const { rows } = await db.query<{ granted_at: Date }>('SELECT granted_at FROM admin_roles WHERE user_id = $1', [
        userId,
      ]);
      return rows[0]?.granted_at ?? null;
    },

    /** True when the user was not an admin before. */
    async grant(userId: number): Promise<boolean> {
      const { rowCount } = await db.query(
        'INSERT INTO admin_roles (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING',
        [userId],
      );
      return (rowCount ?? 0) > 0;
    },

    /** True when the user was an admin before. */
    async revoke(userId: number): Promise<boolean> {
      const { rowCount } = await db.query('DELETE FROM admin_roles WHERE user_id = $1', [userId]);
      return (rowCount ?? 0) > 0;
    },
  };
}

export type AdminRolesRepo = ReturnType<typeof adminRolesRepo>;
