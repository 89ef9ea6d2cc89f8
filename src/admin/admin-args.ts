import { parseArgs } from 'node:util';
import { z } from 'zod';
import { emailField } from '../forms/fields.js';
import { printable } from './text-table.js';

export const USAGE = `Usage: npm run users -- <command>

Commands:
  list [--page N] [--per-page N]   users, newest first (20 a page)
  show EMAIL                       a user, their second factors, open sessions and latest auth events
  deactivate EMAIL                 stops the user logging in; ends their sessions at once
  activate EMAIL                   lets a deactivated user log in again
  mfa:reset EMAIL                  removes every second factor (app, recovery codes, passkeys)
  admin:grant EMAIL                makes the user an admin of the console (/admin); audited
  admin:revoke EMAIL               stops the user being an admin; audited
  delete EMAIL [--yes]             deletes the user and their sessions (asks first unless --yes)
  identity:remove EMAIL ID         removes one sign-in provider identity (its ID as show lists it)
  sessions:prune                   deletes expired sessions
  help                             this text

Uses the app's configuration (environment or .env): DATABASE_URL, or the embedded
database in DATA_DIR (stop the server first: only one process can open it).`;

/** Arguments that do not make a command; `withUsage` also prints the usage text. Exit code 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly withUsage = false,
  ) {
    super(message);
  }
}

type EmailCommand = 'show' | 'deactivate' | 'activate' | 'mfa:reset' | 'admin:grant' | 'admin:revoke';

export type Invocation =
  | { command: 'help' }
  | { command: 'list'; page: number; perPage: number }
  | { command: EmailCommand; email: string }
  | { command: 'delete'; email: string; yes: boolean }
  | { command: 'identity:remove'; email: string; id: number }
  | { command: 'sessions:prune' };

const OPTIONS = {
  page: { type: 'string' },
  'per-page': { type: 'string' },
  yes: { type: 'boolean', short: 'y' },
  help: { type: 'boolean', short: 'h' },
} as const;

const count = (option: string, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `${option} must be a whole number`)
    .transform(Number)
    .pipe(z.number().int().min(1, `${option} must be at least 1`).max(max, `${option} must be at most ${max}`));

// Lower-cased and trimmed as the signup form stores it, so "  Ada@Example.COM" finds ada@example.com.
const emailArg = z.string().transform((raw, ctx) => {
  const parsed = emailField.safeParse(raw);
  if (parsed.success) return parsed.data;
  ctx.addIssue({ code: 'custom', message: `"${printable(raw)}" is not a valid email address` });
  return z.NEVER;
});

const noArguments = z.array(z.string()).max(0, 'takes no arguments');
const oneEmail = z
  .array(z.string())
  .length(1, 'takes one EMAIL')
  .transform((args) => args[0] ?? '')
  .pipe(emailArg);

const forEmail = (command: EmailCommand) =>
  z.strictObject({ positionals: oneEmail }).transform(({ positionals: email }) => ({ command, email }));

const SCHEMAS = {
  list: z
    .strictObject({
      positionals: noArguments,
      page: count('--page', 1_000_000).default(1),
      'per-page': count('--per-page', 1000).default(20),
    })
    .transform(({ page, 'per-page': perPage }) => ({ command: 'list' as const, page, perPage })),
  show: forEmail('show'),
  deactivate: forEmail('deactivate'),
  activate: forEmail('activate'),
  'mfa:reset': forEmail('mfa:reset'),
  'admin:grant': forEmail('admin:grant'),
  'admin:revoke': forEmail('admin:revoke'),
  delete: z
    .strictObject({ positionals: oneEmail, yes: z.boolean().default(false) })
    .transform(({ positionals: email, yes }) => ({ command: 'delete' as const, email, yes })),
  'identity:remove': z
    .strictObject({ positionals: z.array(z.string()).length(2, 'takes EMAIL and ID') })
    .transform(({ positionals }) => ({ email: positionals[0] ?? '', id: positionals[1] ?? '' }))
    .pipe(
      z.object({
        email: emailArg,
        id: z
          .string()
          .regex(/^[1-9][0-9]{0,15}$/, 'ID must be a whole number')
          .transform(Number),
      }),
    )
    .transform(({ email, id }) => ({ command: 'identity:remove' as const, email, id })),
  'sessions:prune': z
    .strictObject({ positionals: noArguments })
    .transform(() => ({ command: 'sessions:prune' as const })),
} satisfies Record<string, z.ZodType<Invocation>>;

const isCommand = (name: string): name is keyof typeof SCHEMAS => Object.hasOwn(SCHEMAS, name);

/** The command line (after `--`) as one invocation; throws UsageError. */
export function parseInvocation(argv: readonly string[]): Invocation {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h')
    return { command: 'help' };
  if (!isCommand(command)) throw new UsageError(`Unknown command "${printable(command)}".`, true);

  let parsed;
  try {
    parsed = parseArgs({ args: [...rest], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    // node's messages go on to explain "--" at length; the first sentence is the point.
    const message = error instanceof Error ? (error.message.split(/\.\s/)[0] ?? error.message) : String(error);
    throw new UsageError(`${command}: ${printable(message)}`);
  }
  const { help, ...values } = parsed.values;
  if (help) return { command: 'help' };

  const result = SCHEMAS[command].safeParse({ ...values, positionals: parsed.positionals });
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const message =
    issue?.code === 'unrecognized_keys'
      ? `does not take ${issue.keys.map((key) => `--${key}`).join(', ')}`
      : (issue?.message ?? 'invalid arguments');
  throw new UsageError(`${command}: ${message}`);
}
