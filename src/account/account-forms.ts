import { z } from 'zod';
import {
  checkbox,
  csrfField,
  currentPasswordField,
  emailField,
  nameField,
  newPasswordField,
  websiteField,
} from '../forms/fields.js';
import { messages } from '../messages.js';

export const profileForm = z.strictObject({
  name: nameField,
  website: z.string().default('').pipe(websiteField),
  _csrf: csrfField,
});

export const emailChangeForm = z.strictObject({
  email: emailField,
  password: currentPasswordField,
  _csrf: csrfField,
});

export const passwordChangeForm = z.strictObject({
  current: currentPasswordField,
  password: newPasswordField,
  confirm: z.string(),
  _csrf: csrfField,
});

export const deleteAccountForm = z.strictObject({
  password: currentPasswordField,
  confirm: checkbox.refine((ticked) => ticked, messages.account.tickToDelete),
  _csrf: csrfField,
});

export const endSessionForm = z.strictObject({
  // A session's public handle is a random UUID (lower-case, as Postgres writes it).
  id: z
    .string()
    .trim()
    .toLowerCase()
    .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
  _csrf: csrfField,
});

export const buttonForm = z.strictObject({ _csrf: csrfField });

/** The new password must match its confirmation and differ from the current one. */
export const newPasswordChecks = (raw: Record<string, unknown>): Record<string, string> => {
  if (raw['password'] !== raw['confirm']) return { confirm: messages.fields.passwordsDiffer };
  if (raw['password'] === raw['current'] && raw['password'] !== '') return { password: messages.account.samePassword };
  return {};
};

/** Confirming it is you before a sensitive page: the password, and the page to go back to. */
export const confirmPasswordForm = z.strictObject({
  password: currentPasswordField,
  next: z.string().optional(),
  _csrf: csrfField,
});

/** …or a code from the authenticator app. */
export const confirmCodeForm = z.strictObject({
  code: z.string().trim().max(32),
  next: z.string().optional(),
  _csrf: csrfField,
});
