import { z } from 'zod';
import { AUTH_EVENT_KINDS, type TrailFilter } from '../audit/auth-events-repo.js';
import { csrfField, noControl, uuidField } from '../forms/fields.js';
import { CONSOLE_ACTIONS } from './console-actions.js';

/**
 * The console's input, each read with zod at the edge: what does not parse is a 404 (an id or an
 * action in the path: no such page) or a 400 (a query or a form), never a query to the database.
 */

/** An account id in the path: a positive whole number a bigint and a JS number both hold exactly. */
export const accountIdParam = z
  .string()
  .regex(/^[1-9][0-9]{0,14}$/)
  .transform(Number);

export const actionParam = z.enum(CONSOLE_ACTIONS);

const pageField = z
  .string()
  .regex(/^[1-9][0-9]{0,5}$/)
  .transform(Number)
  .optional()
  .transform((page) => page ?? 1);

/** Text typed into a filter: trimmed, printable, no longer than an email may be. */
const typed = z
  .string()
  .trim()
  .max(254)
  .refine(noControl)
  // Lone surrogates cannot be sent to Postgres as UTF-8.
  .refine((value) => !/\p{Cs}/u.test(value))
  .optional()
  .transform((value) => value ?? '');

/** /admin/users?q=&page= */
export const usersQuery = z.object({ q: typed, page: pageField });

const day = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/)
  .transform((value, ctx) => {
    const date = new Date(`${value}T00:00:00Z`);
    if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== value) {
      ctx.addIssue({ code: 'custom', message: 'not a date' });
      return z.NEVER;
    }
    return date;
  });
const orEmpty = <T extends z.ZodType>(schema: T) =>
  z
    .union([z.literal('').transform(() => null), schema])
    .optional()
    .transform((value) => value ?? null);

/** /admin/events?kind=&email=&ip=&from=&to=&page=: `to` is a whole day, so it includes its events. */
export const eventsQuery = z
  .object({
    kind: orEmpty(z.enum(AUTH_EVENT_KINDS)),
    email: orEmpty(typed.pipe(z.string().min(1))),
    ip: orEmpty(
      z
        .string()
        .trim()
        .regex(/^[0-9A-Fa-f:.]{2,45}$/),
    ),
    from: orEmpty(day),
    to: orEmpty(day),
    page: pageField,
  })
  .refine(({ from, to }) => from === null || to === null || from <= to)
  .transform(({ page, to, ...rest }): { filter: TrailFilter; page: number } => ({
    filter: { ...rest, before: to === null ? null : new Date(to.getTime() + 24 * 60 * 60 * 1000) },
    page,
  }));

/** The confirmation page of an action: which passkey, for remove-passkey. */
export const confirmQuery = z.object({ passkey: uuidField.optional() });

/** The confirmed action's form: the account's email as the confirmation page named it, and the passkey. */
export const actionForm = z.strictObject({
  _csrf: csrfField,
  confirm: z.string().max(254).optional(),
  passkey: z.union([z.literal('').transform(() => undefined), uuidField]).optional(),
});
