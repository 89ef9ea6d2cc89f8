import type { z } from 'zod';
import { HttpError } from '../http/errors.js';
import { messages } from '../messages.js';

/** Fields a re-rendered form may show again: never a password. */
const ECHOED_FIELDS = ['name', 'email', 'website', 'next', 'remember'] as const;

export type FormResult<T> =
  { ok: true; data: T } | { ok: false; errors: Record<string, string>; values: Record<string, string> };

const malformedForm = () => new HttpError(400, messages.errors.malformedForm);

/**
 * Parses a urlencoded body against a form schema; field errors carry the first message per field.
 * A body not shaped like the form (unknown, repeated or non-text fields) throws the 400.
 */
export function parseForm<S extends z.ZodObject>(
  schema: S,
  body: unknown,
  extraErrors: (raw: Record<string, unknown>) => Record<string, string> = () => ({}),
): FormResult<z.output<S>> {
  // A field left out is a field left empty: it gets its own message (422), as a browser's empty field would.
  const given: Record<string, unknown> = typeof body === 'object' && body !== null ? { ...body } : {};
  const raw: Record<string, unknown> = {
    ...Object.fromEntries(Object.keys(schema.shape).map((key) => [key, ''])),
    ...given,
  };
  const result = schema.safeParse(raw);
  const malformed =
    Object.values(raw).some((value) => typeof value !== 'string') ||
    result.error?.issues.some((issue) => issue.code === 'unrecognized_keys' || issue.code === 'invalid_type');
  if (malformed) throw malformedForm();

  const errors: Record<string, string> = {};
  for (const issue of result.error?.issues ?? []) {
    const field = String(issue.path[0] ?? 'form');
    errors[field] ??= issue.message;
  }
  for (const [field, message] of Object.entries(extraErrors(raw))) errors[field] ??= message;
  if (result.success && Object.keys(errors).length === 0) return { ok: true, data: result.data };

  const values: Record<string, string> = {};
  for (const field of ECHOED_FIELDS) {
    const value = raw[field];
    if (typeof value === 'string') values[field] = value;
  }
  return { ok: false, errors, values };
}

/** A form with nothing to show again (a button, a link's token): any failure is the 400. */
export function parseFixedForm<S extends z.ZodObject>(schema: S, body: unknown): z.output<S> {
  const form = parseForm(schema, body);
  if (!form.ok) throw malformedForm();
  return form.data;
}

export const confirmMatches = (raw: Record<string, unknown>): Record<string, string> =>
  raw['password'] === raw['confirm'] ? {} : { confirm: messages.fields.passwordsDiffer };
