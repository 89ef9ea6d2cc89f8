import { z } from 'zod';
import { messages } from '../messages.js';
import { isCommonPassword } from '../users/common-passwords.js';
import { MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARACTERS, passwordBytes, passwordCharacters } from '../users/passwords.js';

// C0 and C1 controls and DEL: never part of a name, an address or a URL.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
export const noControl = (value: string) => !CONTROL.test(value);

const isHttpUrl = (value: string): boolean => {
  if (/\s/.test(value) || !noControl(value)) return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
};

// Each field rule, defined once and reused by every form that has the field.
export const nameField = z
  .string()
  .trim()
  .min(1, messages.fields.required)
  // Characters as a person counts them (code points, as the database's check does), not UTF-16 units.
  .refine((value) => [...value].length <= 100, messages.fields.nameTooLong)
  .refine(noControl, messages.fields.nameHasControl);

export const emailField = z
  .string()
  .trim()
  .toLowerCase()
  .max(254, messages.fields.invalidEmail)
  .pipe(z.email({ error: messages.fields.invalidEmail }));

export const newPasswordField = z
  .string()
  .refine((value) => passwordCharacters(value) >= MIN_PASSWORD_CHARACTERS, messages.fields.weakPassword)
  .refine((value) => passwordBytes(value) <= MAX_PASSWORD_BYTES, messages.fields.passwordTooLong)
  .refine((value) => !isCommonPassword(value), messages.fields.commonPassword)
  // bcrypt stops reading at a NUL byte, which would make "a\0b" match "a".
  .refine((value) => !value.includes('\u0000'), messages.fields.passwordHasNul);

export const websiteField = z
  .string()
  .trim()
  .max(200, messages.fields.invalidUrl)
  .refine((value) => value === '' || isHttpUrl(value), messages.fields.invalidUrl)
  .transform((value) => (value === '' ? null : value));

export const csrfField = z.string().optional();

/** A form that is only a button: nothing but its CSRF token. */
export const buttonForm = z.strictObject({ _csrf: csrfField });

/** A row's public handle (a session, a passkey): a random UUID, lower-case as Postgres writes it. */
export const uuidField = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

/** A one-time code as typed into the form: the checks (6 digits, spaces allowed) are the use case's. */
export const oneTimeCodeField = z.string().trim().max(32);

// The current password, re-entered before a change: only compared, never stored, so any text
// will do here, and the comparison refuses what bcrypt cannot check (over 72 bytes, a NUL).
export const currentPasswordField = z.string().min(1, messages.fields.currentPasswordRequired);
export const checkbox = z
  .string()
  .optional()
  .transform((value) => value !== undefined && value !== '' && value !== '0' && value !== 'false');

/** "?page=N" on a paged list: anything else is the first page. */
export const pageQuery = z
  .object({
    page: z
      .string()
      .regex(/^[1-9][0-9]{0,5}$/)
      .transform(Number)
      .optional(),
  })
  .catch({ page: undefined });
