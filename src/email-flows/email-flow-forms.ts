import { z } from 'zod';
import { csrfField, emailField, newPasswordField } from '../forms/fields.js';

export const forgotPasswordForm = z.strictObject({ email: emailField, _csrf: csrfField });

export const resetPasswordForm = z.strictObject({
  password: newPasswordField,
  confirm: z.string(),
  _csrf: csrfField,
});

/** "Send the link again": a signed-in user needs no address; the login page sends the one typed there. */
export const resendVerificationForm = z.strictObject({
  email: z.string().trim().toLowerCase().max(254).optional(),
  _csrf: csrfField,
});

/** A link's token as it arrives in the query: a string of sane length, or nothing usable. */
export const linkQuery = z.object({ token: z.string().max(200).optional() }).catch({ token: undefined });

/** The one button on a mailed link's page: the link's token travels in the form, never acted on by a GET. */
export const linkForm = z.strictObject({ token: z.string().max(200), _csrf: csrfField });
