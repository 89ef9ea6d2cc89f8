import { createInterface } from 'node:readline';
import { AdminError, type AdminFactors, type AdminIdentities, type AdminIo } from './admin/admin-commands.js';
import { adminServices } from './admin/admin-services.js';
import * as commands from './admin/admin-commands.js';
import { type Invocation, USAGE, UsageError, parseInvocation } from './admin/admin-args.js';
import { printable } from './admin/text-table.js';
import { ConfigError, loadConfig } from './config.js';
import { openDatabase } from './db/database.js';
import { EmbeddedLockedError } from './db/embedded-locked-error.js';
import { migrate } from './db/migrate.js';
import type { AdminAccounts } from './admin/admin-accounts.js';

/** `npm run users -- <command>`: the admin command. Exit 0 done, 1 failed, 2 bad usage. */

const terminal: AdminIo = {
  out: (...lines) => process.stdout.write(lines.map((line) => `${line}\n`).join('')),
  interactive: process.stdin.isTTY === true,
  ask: (question) =>
    new Promise((resolve) => {
      // The question goes to stderr, so it is seen even when the output is piped somewhere.
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      // Ctrl-C or Ctrl-D is a "no", not a hang.
      rl.once('SIGINT', () => rl.close());
      rl.once('close', () => resolve(null));
      rl.question(question, (answer) => {
        resolve(answer);
        rl.close();
      });
    }),
};

function dispatch(
  invocation: Exclude<Invocation, { command: 'help' }>,
  users: AdminAccounts,
  factors: AdminFactors,
  io: AdminIo,
  identities: AdminIdentities,
): Promise<void> {
  switch (invocation.command) {
    case 'list':
      return commands.listUsers(users, io, invocation);
    case 'show':
      return commands.showUser(users, factors, io, invocation, identities);
    case 'mfa:reset':
      return commands.resetSecondFactors(users, factors, io, invocation);
    case 'deactivate':
      return commands.deactivateUser(users, io, invocation);
    case 'activate':
      return commands.activateUser(users, io, invocation);
    case 'delete':
      return commands.deleteUser(users, io, invocation);
    case 'admin:grant':
    case 'admin:revoke':
      return commands.setAdmin(users, io, { email: invocation.email, admin: invocation.command === 'admin:grant' });
    case 'identity:remove':
      return commands.removeIdentity(users, identities, io, invocation);
    case 'sessions:prune':
      return commands.pruneSessions(users, io);
  }
}

const NETWORK = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'ECONNRESET',
]);

/** Any failure as one line: the admin needs what went wrong, not where in the code. */
function describeError(error: unknown): string {
  if (error instanceof ConfigError || error instanceof EmbeddedLockedError || error instanceof AdminError)
    return error.message;
  // Connecting to "localhost" tries each address; node reports all of them in an AggregateError without a message.
  const cause = error instanceof AggregateError && error.errors.length > 0 ? error.errors[0] : error;
  const message = cause instanceof Error ? cause.message : String(cause);
  const code = (cause as { code?: unknown } | null)?.code;
  const line = printable(message.split('\n')[0]?.trim() || String(code ?? 'unknown error'));
  if ((typeof code === 'string' && NETWORK.has(code)) || /timeout exceeded when trying to connect/i.test(message))
    return `Cannot reach the database: ${line}`;
  if (typeof cause === 'object' && cause !== null && 'severity' in cause) return `Database error: ${line}`;
  return `Failed: ${line}`;
}

async function main(argv: readonly string[]): Promise<number> {
  let invocation: Invocation;
  try {
    invocation = parseInvocation(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(
      error.withUsage ? `${error.message}\n\n${USAGE}\n` : `${error.message} (see: npm run users -- help)\n`,
    );
    return 2;
  }
  if (invocation.command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  const config = loadConfig();
  const db = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, poolSize: 2 });
  try {
    await migrate(db.pool);
    const { accounts: users, factors, identities } = adminServices(config, db.pool);
    await dispatch(invocation, users, factors, terminal, identities);
    return 0;
  } finally {
    await db.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${describeError(error)}\n`);
    process.exitCode = 1;
  },
);
