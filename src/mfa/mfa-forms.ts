import { z } from 'zod';
import { csrfField, currentPasswordField } from '../forms/fields.js';
import { messages } from '../messages.js';

/** A code as typed into the form: the checks (6 digits, spaces allowed) are the use case's. */
const codeField = z.string().trim().max(32);

/** Confirming the authenticator app: a code from it and the current password. */
export const totpConfirmForm = z.strictObject({
  code: codeField.refine((value) => value !== '', messages.twoFactor.enterCode),
  password: currentPasswordField,
  _csrf: csrfField,
});

/** Turning the app off, or new recovery codes: the current password. */
export const passwordForm = z.strictObject({ password: currentPasswordField, _csrf: csrfField });

/** The second step of a login with the app. */
export const loginCodeForm = z.strictObject({ code: codeField, _csrf: csrfField });

/** The second step with a recovery code. */
export const recoveryCodeForm = z.strictObject({ recovery_code: z.string().trim().max(64), _csrf: csrfField });
