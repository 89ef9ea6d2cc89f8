import { browserName } from '../sessions/browser-name.js';
import type { AdminAccounts } from './admin-accounts.js';
import type { User } from '../users/users-repo.js';
import { fieldList, formatTime, printable, textTable } from './text-table.js';

/** A failure the admin can act on, reported as its one line (exit code 1). */
export class AdminError extends Error {}

/** How a command talks to whoever runs it. */
export interface AdminIo {
  /** Prints one line (or several, one per element) on standard output. */
  out(...lines: string[]): void;
  /** True when there is a terminal to ask a question on. */
  readonly interactive: boolean;
  /** Asks a question on the terminal; null when it was closed or interrupted before an answer. */
  ask(question: string): Promise<string | null>;
}

const RECENT_EVENTS = 20;
const SHOWN_SESSIONS = 50;

const sessions = (n: number) => `${n} session${n === 1 ? '' : 's'}`;

async function userOrFail(accounts: AdminAccounts, email: string) {
  const user = await accounts.findUser(email);
  if (!user) throw new AdminError(noUser(email));
  return user;
}

const noUser = (email: string) => `No user with email ${printable(email)}.`;

export async function listUsers(
  accounts: AdminAccounts,
  io: AdminIo,
  { page, perPage }: { page: number; perPage: number },
) {
  const { users, total } = await accounts.listUsers(perPage, (page - 1) * perPage);
  const pages = Math.max(1, Math.ceil(total / perPage));
  if (users.length === 0) io.out(total === 0 ? 'No users yet.' : 'No users on this page.');
  else
    io.out(
      ...textTable(
        ['ID', 'EMAIL', 'NAME', 'ACTIVE', 'CREATED', 'LAST LOGIN'],
        users.map((user) => [user.id, user.email, user.name, user.isActive, user.createdAt, user.lastLoginAt]),
      ),
    );
  io.out(`page ${page} of ${pages} (${total} user${total === 1 ? '' : 's'})`);
}

/** What the admin command knows of a user's second factors. */
export interface AdminFactors {
  status(userId: number): Promise<{ totpSince: Date | null; recoveryCodesLeft: number; passkeys: number }>;
  /** Removes every second factor (audited, the owner told); what went. */
  reset(user: User): Promise<{ totp: boolean; codes: number; passkeys: number }>;
  /** The user's passkeys, as the admin command lists them. */
  passkeys(userId: number): Promise<Array<{ name: string; createdAt: Date; lastUsedAt: Date | null }>>;
}

/** What the admin command knows of a user's sign-in provider identities (never a token: none is kept). */
export interface AdminIdentities {
  hasPassword(userId: number): Promise<boolean>;
  list(userId: number): Promise<
    Array<{
      id: number;
      provider: string;
      subject: string;
      emailSeen: string | null;
      linkedAt: Date;
      lastUsedAt: Date | null;
    }>
  >;
  /** Removes one (audited, the owner told); false when the user has no identity with that id. */
  remove(user: User, id: number): Promise<boolean>;
}

export async function showUser(
  accounts: AdminAccounts,
  factors: AdminFactors,
  io: AdminIo,
  { email }: { email: string },
  identities?: AdminIdentities,
) {
  const user = await userOrFail(accounts, email);
  const [{ sessions: open, total: openTotal }, events, status, passkeys, adminSince] = await Promise.all([
    accounts.openSessions(user.id, SHOWN_SESSIONS),
    accounts.recentEvents(user.id, RECENT_EVENTS),
    factors.status(user.id),
    factors.passkeys(user.id),
    accounts.adminSince(user.id),
  ]);
  io.out(
    ...fieldList([
      ['id', user.id],
      ['email', user.email],
      ['name', user.name],
      ['website', user.website],
      ['active', user.isActive],
      ['admin', adminSince === null ? 'no' : `yes, since ${formatTime(adminSince)}`],
      ['created', user.createdAt],
      ['last login', user.lastLoginAt],
    ]),
  );
  io.out(
    '',
    'Second factors:',
    ...fieldList([
      ['authenticator app', status.totpSince === null ? 'off' : `on since ${formatTime(status.totpSince)}`],
      ['recovery codes', `${status.recoveryCodesLeft} left`],
      ['passkeys', status.passkeys],
    ]).map((line) => `  ${line}`),
  );
  if (passkeys.length > 0)
    io.out(
      ...textTable(
        ['PASSKEY', 'ADDED', 'LAST USED'],
        passkeys.map((key) => [key.name, key.createdAt, key.lastUsedAt]),
      ).map((line) => `  ${line}`),
    );
  if (identities) {
    const [linked, hasPassword] = await Promise.all([identities.list(user.id), identities.hasPassword(user.id)]);
    io.out('', `Password: ${hasPassword ? 'set' : 'none (signs in with a provider or a passkey)'}`);
    io.out(linked.length === 0 ? 'Sign-in providers: none' : 'Sign-in providers:');
    if (linked.length > 0)
      io.out(
        ...textTable(
          ['ID', 'PROVIDER', 'SUBJECT', 'EMAIL SEEN', 'LINKED', 'LAST USED'],
          linked.map((identity) => [
            identity.id,
            identity.provider,
            identity.subject,
            identity.emailSeen,
            identity.linkedAt,
            identity.lastUsedAt,
          ]),
        ).map((line) => `  ${line}`),
      );
  }
  io.out(
    '',
    `Open sessions: ${openTotal}${openTotal > open.length ? ` (the ${open.length} most recently used shown)` : ''}`,
  );
  if (open.length > 0)
    io.out(
      ...textTable(
        ['ID', 'STARTED', 'LAST USED', 'IP', 'BROWSER'],
        open.map((session) => [
          session.id,
          session.createdAt,
          session.lastSeenAt,
          session.ip,
          browserName(session.userAgent),
        ]),
      ),
    );
  io.out('', events.length === 0 ? 'No auth events.' : `Latest auth events (up to ${RECENT_EVENTS}), newest first:`);
  if (events.length > 0)
    io.out(
      ...textTable(
        ['TIME', 'EVENT', 'IP', 'DETAIL'],
        events.map((event) => [
          event.at,
          event.attempts > 1 ? `${event.event} ×${event.attempts}` : event.event,
          event.ip,
          event.detail ?? null,
        ]),
        80,
      ),
    );
}

export async function deactivateUser(accounts: AdminAccounts, io: AdminIo, { email }: { email: string }) {
  const result = await accounts.deactivate(email);
  if (!result.ok) throw new AdminError(noUser(email));
  const ended = result.sessionsEnded > 0 ? `; ended ${sessions(result.sessionsEnded)}` : '';
  io.out(
    result.changed ? `Deactivated ${email}${ended || '; no open sessions'}.` : `${email} was already inactive${ended}.`,
  );
}

export async function activateUser(accounts: AdminAccounts, io: AdminIo, { email }: { email: string }) {
  const result = await accounts.activate(email);
  if (!result.ok) throw new AdminError(noUser(email));
  io.out(result.changed ? `Activated ${email}.` : `${email} was already active.`);
}

/** admin:grant and admin:revoke: the only ways to make or unmake an admin of the console. */
export async function setAdmin(
  accounts: AdminAccounts,
  io: AdminIo,
  { email, admin }: { email: string; admin: boolean },
) {
  const result = await accounts.setAdmin(email, admin);
  if (!result.ok) throw new AdminError(noUser(email));
  if (admin)
    io.out(
      result.changed
        ? `${email} is now an admin. The console (/admin) opens once they have a second factor (an authenticator app or a passkey).`
        : `${email} was already an admin.`,
    );
  else io.out(result.changed ? `${email} is no longer an admin.` : `${email} was not an admin.`);
}

export async function deleteUser(
  accounts: AdminAccounts,
  io: AdminIo,
  { email, yes }: { email: string; yes: boolean },
) {
  await userOrFail(accounts, email);
  if (!yes) {
    if (!io.interactive)
      throw new AdminError(
        `Not deleted: no terminal to confirm on; run "delete ${email} --yes" to delete without asking.`,
      );
    const answer = await io.ask(`Delete ${email} and all their sessions? Type the email to confirm: `);
    if (answer === null) throw new AdminError('Not deleted.');
    if (answer.trim().toLowerCase() !== email) throw new AdminError(`Not deleted: the answer did not match ${email}.`);
  }
  const result = await accounts.deleteUser(email);
  if (!result.ok || !result.changed) throw new AdminError(`${email} was deleted meanwhile by someone else.`);
  io.out(`Deleted ${email}; ended ${sessions(result.sessionsEnded)}.`);
}

/** For an owner who lost every factor: removes them all, so the password alone logs in again. */
export async function resetSecondFactors(
  accounts: AdminAccounts,
  factors: AdminFactors,
  io: AdminIo,
  { email }: { email: string },
) {
  const user = await userOrFail(accounts, email);
  const removed = await factors.reset(user);
  if (!removed.totp && removed.codes === 0 && removed.passkeys === 0) {
    io.out(`${email} had no second factor.`);
    return;
  }
  const parts = [
    removed.totp ? 'the authenticator app' : null,
    `${removed.codes} recovery code${removed.codes === 1 ? '' : 's'}`,
    `${removed.passkeys} passkey${removed.passkeys === 1 ? '' : 's'}`,
  ].filter((part) => part !== null);
  io.out(`Removed ${parts.join(', ')} from ${email}; the password alone logs in now. The owner was mailed.`);
}

/** Removes one sign-in provider identity of a user (a lost or compromised provider account). */
export async function removeIdentity(
  accounts: AdminAccounts,
  identities: AdminIdentities,
  io: AdminIo,
  { email, id }: { email: string; id: number },
) {
  const user = await userOrFail(accounts, email);
  if (!(await identities.remove(user, id))) throw new AdminError(`${email} has no sign-in provider identity ${id}.`);
  io.out(`Removed sign-in provider identity ${id} from ${email}. The owner was mailed.`);
}

export async function pruneSessions(accounts: AdminAccounts, io: AdminIo) {
  const pruned = await accounts.pruneSessions();
  io.out(`Pruned ${pruned} expired ${pruned === 1 ? 'session' : 'sessions'}.`);
}
