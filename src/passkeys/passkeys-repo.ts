import type { Db } from '../db/database.js';
import { type User, userColumnsOf, userFromJoin } from '../users/users-repo.js';

export interface Passkey {
  /** A public handle (a random UUID), for the forms that name a passkey. */
  readonly id: string;
  readonly userId: number;
  /** The credential id, base64url. */
  readonly credentialId: string;
  readonly publicKey: Buffer;
  readonly signCount: number;
  readonly transports: string[];
  readonly deviceType: 'singleDevice' | 'multiDevice';
  readonly backedUp: boolean;
  readonly aaguid: string;
  readonly name: string;
  readonly createdAt: Date;
  readonly lastUsedAt: Date | null;
}

export type NewPasskey = Omit<Passkey, 'id' | 'createdAt' | 'lastUsedAt'>;

/** A passkey as a sign-in answer finds it: with its owner, when active, and the owner's user handle. */
export interface PasskeyWithOwner {
  readonly passkey: Passkey;
  readonly owner: User | null;
  /** The WebAuthn user handle of the owner, or null when there is none (or no active owner). */
  readonly ownerHandle: Buffer | null;
}

interface PasskeyRow {
  id: string;
  user_id: number;
  credential_id: string;
  public_key: Buffer;
  sign_count: number;
  transports: string[];
  device_type: 'singleDevice' | 'multiDevice';
  backed_up: boolean;
  aaguid: string;
  name: string;
  created_at: Date;
  last_used_at: Date | null;
}

/** The columns toPasskey reads (the id as text), as `table.column` when a table is named (a join). */
const columnsOf = (table?: string): string => {
  const of = table === undefined ? '' : `${table}.`;
  return `${of}id::text AS id, ${of}user_id, ${of}credential_id, ${of}public_key, ${of}sign_count, ${of}transports,
    ${of}device_type, ${of}backed_up, ${of}aaguid, ${of}name, ${of}created_at, ${of}last_used_at`;
};
const COLUMNS = columnsOf();

const toPasskey = (row: PasskeyRow): Passkey => ({
  id: row.id,
  userId: row.user_id,
  credentialId: row.credential_id,
  publicKey: row.public_key,
  signCount: row.sign_count,
  transports: row.transports,
  deviceType: row.device_type,
  backedUp: row.backed_up,
  aaguid: row.aaguid,
  name: row.name,
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at,
});

const UNIQUE_VIOLATION = '23505';
// The owner's columns in a join are named owner_id, owner_name, ...: the passkey has an id and a name too.
const OWNER = 'owner_';

/** Every SQL statement on passkeys. */
export function passkeysRepo(db: Db) {
  return {
    /** Stores a new passkey; null when its credential id is registered already (to anyone). */
    async add(passkey: NewPasskey): Promise<Passkey | null> {
      try {
        const { rows } = await db.query<PasskeyRow>(
          `INSERT INTO passkeys (user_id, credential_id, public_key, sign_count, transports, device_type, backed_up, aaguid, name)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${COLUMNS}`,
          [
            passkey.userId,
            passkey.credentialId,
            passkey.publicKey,
            passkey.signCount,
            passkey.transports,
            passkey.deviceType,
            passkey.backedUp,
            passkey.aaguid,
            passkey.name,
          ],
        );
        return rows[0] ? toPasskey(rows[0]) : null;
      } catch (error) {
        if ((error as { code?: string }).code === UNIQUE_VIOLATION) return null;
        throw error;
      }
    },

    async listFor(userId: number): Promise<Passkey[]> {
      const { rows } = await db.query<PasskeyRow>(
        `SELECT ${COLUMNS} FROM passkeys WHERE user_id = $1 ORDER BY created_at, id`,
        [userId],
      );
      return rows.map(toPasskey);
    },

    async countFor(userId: number): Promise<number> {
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM passkeys WHERE user_id = $1', [
        userId,
      ]);
      return rows[0]?.n ?? 0;
    },

    /**
     * The passkey a sign-in answer names, its active owner and the owner's user handle, in one
     * read-only statement (an answer, forged or not, writes nothing before it is verified).
     */
    async findByCredentialId(credentialId: string): Promise<PasskeyWithOwner | null> {
      if (credentialId.length > 1400) return null;
      const { rows } = await db.query<PasskeyRow & { owner_handle: Buffer | null } & Record<string, unknown>>(
        `SELECT ${columnsOf('p')}, u.webauthn_handle AS owner_handle, ${userColumnsOf('u', OWNER)}
           FROM passkeys p LEFT JOIN users u ON u.id = p.user_id AND u.is_active
          WHERE p.credential_id = $1`,
        [credentialId],
      );
      const row = rows[0];
      if (!row) return null;
      return { passkey: toPasskey(row), owner: userFromJoin(row, OWNER), ownerHandle: row.owner_handle };
    },

    /**
     * A verified use: the new signature counter and the time. The counter only moves forward
     * (an authenticator that reports none stays at 0), so two uses at once cannot step it back.
     */
    async recordUse(id: string, signCount: number): Promise<void> {
      await db.query(
        'UPDATE passkeys SET sign_count = greatest(sign_count, $2), last_used_at = now() WHERE id = $1::uuid',
        [id, signCount],
      );
    },

    /** Removes one of the user's passkeys (another user's id matches nothing); its name, or null. */
    async remove(userId: number, id: string): Promise<string | null> {
      const { rows } = await db.query<{ name: string }>(
        'DELETE FROM passkeys WHERE user_id = $1 AND id = $2::uuid RETURNING name',
        [userId, id],
      );
      return rows[0]?.name ?? null;
    },

    async removeAll(userId: number): Promise<number> {
      const { rowCount } = await db.query('DELETE FROM passkeys WHERE user_id = $1', [userId]);
      return rowCount ?? 0;
    },
  };
}

export type PasskeysRepo = ReturnType<typeof passkeysRepo>;
