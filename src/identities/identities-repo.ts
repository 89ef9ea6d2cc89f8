import type { Db } from '../db/database.js';
import { type User, userColumnsOf, userFromJoin } from '../users/users-repo.js';

/** An account's link to an identity at a provider: its issuer and subject, never its email. */
export interface Identity {
  readonly id: number;
  readonly userId: number;
  /** The configured provider's name (google, acme, github). */
  readonly provider: string;
  readonly issuer: string;
  readonly subject: string;
  /** The address the provider gave when it was last used (shown to the owner; never a key). */
  readonly emailSeen: string | null;
  readonly linkedAt: Date;
  readonly lastUsedAt: Date | null;
}

interface IdentityRow {
  id: string;
  user_id: string;
  provider: string;
  issuer: string;
  subject: string;
  email_seen: string | null;
  linked_at: Date;
  last_used_at: Date | null;
}

const COLUMNS = 'i.id, i.user_id, i.provider, i.issuer, i.subject, i.email_seen, i.linked_at, i.last_used_at';

const toIdentity = (row: IdentityRow): Identity => ({
  id: Number(row.id),
  userId: Number(row.user_id),
  provider: row.provider,
  issuer: row.issuer,
  subject: row.subject,
  emailSeen: row.email_seen,
  linkedAt: row.linked_at,
  lastUsedAt: row.last_used_at,
});

const UNIQUE_VIOLATION = '23505';

export interface NewIdentity {
  readonly userId: number;
  readonly provider: string;
  readonly issuer: string;
  readonly subject: string;
  readonly emailSeen: string | null;
}

/** Every SQL statement on identities. */
export function identitiesRepo(db: Db) {
  return {
    /** The identity with this issuer and subject, and its user (null when that user is gone). */
    async find(issuer: string, subject: string): Promise<{ identity: Identity; user: User | null } | null> {
      const { rows } = await db.query<IdentityRow & Record<string, unknown>>(
        `SELECT ${COLUMNS}, ${userColumnsOf('u', 'u_')}
           FROM identities i LEFT JOIN users u ON u.id = i.user_id
          WHERE i.issuer = $1 AND i.subject = $2`,
        [issuer, subject],
      );
      const row = rows[0];
      return row ? { identity: toIdentity(row), user: userFromJoin(row, 'u_') } : null;
    },

    /** Links the identity; false when it is linked already (to anyone: issuer and subject are unique). */
    async insert(identity: NewIdentity): Promise<boolean> {
      try {
        const { rowCount } = await db.query(
          `INSERT INTO identities (user_id, provider, issuer, subject, email_seen, last_used_at)
           VALUES ($1, $2, $3, $4, $5, now())`,
          [identity.userId, identity.provider, identity.issuer, identity.subject, identity.emailSeen],
        );
        return rowCount === 1;
      } catch (error) {
        if ((error as { code?: string }).code === UNIQUE_VIOLATION) return false;
        throw error;
      }
    },

    /** The identity signed in: when, and the address the provider gave this time. */
    async used(id: number, emailSeen: string | null): Promise<void> {
      await db.query('UPDATE identities SET last_used_at = now(), email_seen = $2 WHERE id = $1', [id, emailSeen]);
    },

    /** The user's identities, oldest first. */
    async listFor(userId: number): Promise<Identity[]> {
      const { rows } = await db.query<IdentityRow>(
        `SELECT ${COLUMNS} FROM identities i WHERE i.user_id = $1 ORDER BY i.linked_at, i.id`,
        [userId],
      );
      return rows.map(toIdentity);
    },

    /** How many identities the user has. */
    async countFor(userId: number): Promise<number> {
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM identities WHERE user_id = $1', [
        userId,
      ]);
      return rows[0]?.n ?? 0;
    },

    /** Removes one of the user's identities; the row removed, or null when it was not theirs (or gone). */
    async delete(userId: number, id: number): Promise<Identity | null> {
      const { rows } = await db.query<IdentityRow>(
        `DELETE FROM identities i WHERE i.user_id = $1 AND i.id = $2 RETURNING ${COLUMNS}`,
        [userId, id],
      );
      return rows[0] ? toIdentity(rows[0]) : null;
    },
  };
}

export type IdentitiesRepo = ReturnType<typeof identitiesRepo>;
