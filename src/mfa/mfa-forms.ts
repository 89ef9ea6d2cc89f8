import { z } from 'zod';
import { csrfField, currentPasswordField, oneTimeCodeField } from '../forms/fields.js';
import { messages } from '../messages.js';

/** Confirming the authenticator app: a code from it and the current password. */
export const totpConfirmForm = z.strictObject({
  code: oneTimeCodeField.refine((value) => value !== '', messages.twoFactor.enterCode),
  password: currentPasswordField,
  _csrf: csrfField,
});

/** Turning the app off, or new recovery codes: the current password. */
export const passwordForm = z.strictObject({ password: currentPasswordField, _csrf: csrfField });

/** The second step of a login with the app. */
export const loginCodeForm = z.strictObject({ code: oneTimeCodeField, _csrf: csrfField });

/** The second step with a recovery code. */
export const recoveryCodeForm = z.strictObject({ recovery_code: z.string().trim().max(64), _csrf: csrfField });
