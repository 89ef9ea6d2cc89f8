import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { z } from 'zod';
import { checkbox, csrfField, currentPasswordField, noControl, uuidField } from '../forms/fields.js';
import { messages } from '../messages.js';

// A credential's fields as the browser sends them: base64url text of sane length.
const b64url = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[A-Za-z0-9_-]*$/);

// What a registration's and a login's answer have in common; each adds its own `response`.
const credentialResponse = z.object({
  id: b64url(1400).min(1),
  rawId: b64url(1400).min(1),
  type: z.literal('public-key'),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
});

const registrationResponse = credentialResponse.extend({
  response: z.object({
    clientDataJSON: b64url(4096),
    attestationObject: b64url(8192),
    transports: z.array(z.string().max(32)).max(8).optional(),
  }),
});

const authenticationResponse = credentialResponse.extend({
  response: z.object({
    clientDataJSON: b64url(4096),
    authenticatorData: b64url(4096),
    signature: b64url(1024),
    userHandle: b64url(256).optional(),
  }),
});

/** The JSON a browser sent, as the shape WebAuthn's answer has; null when it is not one. */
function parsed<T>(schema: z.ZodType<T>, text: string): T | null {
  try {
    const result = schema.safeParse(JSON.parse(text));
    return result.success ? result.data : null;
  } catch {
    return null;
  }
}

export const registrationFrom = (text: string): RegistrationResponseJSON | null =>
  parsed(registrationResponse, text) as RegistrationResponseJSON | null;

export const authenticationFrom = (text: string): AuthenticationResponseJSON | null =>
  parsed(authenticationResponse, text) as AuthenticationResponseJSON | null;

/** Adding a passkey: the name, the current password, and the credential the browser made. */
export const addPasskeyForm = z.strictObject({
  name: z
    .string()
    .trim()
    .min(1, messages.passkeys.nameRequired)
    .refine((value) => [...value].length <= 64, messages.passkeys.nameTooLong)
    .refine(noControl, messages.passkeys.nameHasControl),
  password: currentPasswordField,
  credential: z.string().max(12_000),
  _csrf: csrfField,
});

export const removePasskeyForm = z.strictObject({
  id: uuidField,
  password: currentPasswordField,
  _csrf: csrfField,
});

/** Signing in with a passkey: the answer, and where to go (and "remember me" from the login form). */
export const passkeyLoginForm = z.strictObject({
  credential: z.string().max(8_000),
  next: z.string().optional(),
  remember: checkbox,
  _csrf: csrfField,
});
