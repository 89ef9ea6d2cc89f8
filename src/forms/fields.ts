import { z } from 'zod';
import { isCommonPassword } from '../users/common-passwords.js';
import { MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARACTERS, passwordBytes, passwordCharacters } from '../users/passwords.js';

const REQUIRED = 'This field is required.';
const INVALID_EMAIL = 'Enter a valid email.';
const INVALID_URL = 'Enter a valid URL.';
export const WEAK_PASSWORD = 'Select a stronger password.';
export const PASSWORD_TOO_LONG = `Password must be at most ${MAX_PASSWORD_BYTES} bytes (accented letters and emoji count as 2 to 4).`;
export const COMMON_PASSWORD = 'This password is too common.';
export const PASSWORDS_DIFFER = 'Passwords must match.';
export const EMAIL_TAKEN = 'A user already exists with that email address.';
export const BAD_LOGIN = 'Invalid email/password combination.';

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
  .min(1, REQUIRED)
  // Characters as a person counts them (code points, as the database's check does), not UTF-16 units.
  .refine((value) => [...value].length <= 100, 'Name must be at most 100 characters.')
  .refine(noControl, 'Name cannot contain control characters.');

export const emailField = z
  .string()
  .trim()
  .toLowerCase()
  .max(254, INVALID_EMAIL)
  .pipe(z.email({ error: INVALID_EMAIL }));

export const newPasswordField = z
  .string()
  .refine((value) => passwordCharacters(value) >= MIN_PASSWORD_CHARACTERS, WEAK_PASSWORD)
  .refine((value) => passwordBytes(value) <= MAX_PASSWORD_BYTES, PASSWORD_TOO_LONG)
  .refine((value) => !isCommonPassword(value), COMMON_PASSWORD)
  // bcrypt stops reading at a NUL byte, which would make "a\0b" match "a".
  .refine((value) => !value.includes('\u0000'), 'Password cannot contain a NUL character.');

export const websiteField = z
  .string()
  .trim()
  .max(200, INVALID_URL)
  .refine((value) => value === '' || isHttpUrl(value), INVALID_URL)
  .transform((value) => (value === '' ? null : value));

export const csrfField = z.string().optional();

// The current password, re-entered before a change: only compared, never stored, so any text
// will do here, and the comparison refuses what bcrypt cannot check (over 72 bytes, a NUL).
export const currentPasswordField = z.string().min(1, 'Enter your current password.');
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
