import { z } from 'zod';
import { checkbox, csrfField } from '../forms/fields.js';

/** "Continue with …": where to go once logged in. */
export const startForm = z.strictObject({
  next: z.string().max(2048).optional(),
  remember: checkbox,
  _csrf: csrfField,
});

/** Disconnect one identity of the signed-in account (its id, as the security page lists it). */
export const disconnectForm = z.strictObject({
  id: z.string().regex(/^[1-9][0-9]{0,15}$/),
  _csrf: csrfField,
});

/** "Confirm it's you" at the provider: the page to go back to. */
export const confirmForm = z.strictObject({ next: z.string().max(2048).optional(), _csrf: csrfField });

/** A provider's name in a path: as OIDC_PROVIDERS allows. */
export const providerName = z.string().regex(/^[a-z0-9-]{1,40}$/);
