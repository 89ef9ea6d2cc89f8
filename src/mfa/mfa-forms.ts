import { z } from 'zod';
import { csrfField, currentPasswordField } from '../forms/fields.js';

export const CODE_DIDNT_WORK = "That code didn't work. Try the newest code from your app.";
export const RECOVERY_CODE_DIDNT_WORK = "That recovery code didn't work. Check it, or use another one.";
export const ENTER_CODE = 'Enter the 6-digit code from your app.';

/** A code as typed into the form: the checks (6 digits, spaces allowed) are the use case's. */
const codeField = z.string().trim().max(32);

/** Confirming the authenticator app: a code from it and the current password. */
export const totpConfirmForm = z.strictObject({
  code: codeField.refine((value) => value !== '', ENTER_CODE),
  password: currentPasswordField,
  _csrf: csrfField,
});

/** Turning the app off, or new recovery codes: the current password. */
export const passwordForm = z.strictObject({ password: currentPasswordField, _csrf: csrfField });

/** The second step of a login with the app. */
export const loginCodeForm = z.strictObject({ code: codeField, _csrf: csrfField });

/** The second step with a recovery code. */
export const recoveryCodeForm = z.strictObject({ recovery_code: z.string().trim().max(64), _csrf: csrfField });
