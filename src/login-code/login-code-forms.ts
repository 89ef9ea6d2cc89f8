import { z } from 'zod';
import { checkbox, csrfField, emailField, oneTimeCodeField } from '../forms/fields.js';

/** "Email me a sign-in code": the address, and where to go once logged in. */
export const askCodeForm = z.strictObject({
  email: emailField,
  next: z.string().max(2048).optional(),
  remember: checkbox,
  _csrf: csrfField,
});

/** The code as typed (checked against the alphabet by the flow, so any typo is just a wrong code). */
export const enterCodeForm = z.strictObject({ code: oneTimeCodeField, _csrf: csrfField });

export const askCodeQuery = z.object({ next: z.string().optional() }).catch({});
