import { z } from 'zod';
import {
  checkbox,
  csrfField,
  currentPasswordField,
  emailField,
  nameField,
  newPasswordField,
  oneTimeCodeField,
  uuidField,
  websiteField,
} from '../forms/fields.js';
import { confirmMatches } from '../forms/parse-form.js';
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

export const endSessionForm = z.strictObject({ id: uuidField, _csrf: csrfField });

/** The new password must match its confirmation and differ from the current one. */
export const newPasswordChecks = (raw: Record<string, unknown>): Record<string, string> => {
  const mismatch = confirmMatches(raw);
  if (Object.keys(mismatch).length > 0) return mismatch;
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
  code: oneTimeCodeField,
  next: z.string().optional(),
  _csrf: csrfField,
});
