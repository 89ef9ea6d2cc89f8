import { z } from 'zod';
import {
  checkbox,
  csrfField,
  emailField,
  nameField,
  newPasswordField,
  noControl,
  websiteField,
} from '../forms/fields.js';
import { MAX_PASSWORD_BYTES, passwordBytes } from '../users/passwords.js';

export const signupForm = z.strictObject({
  name: nameField,
  email: emailField,
  password: newPasswordField,
  confirm: z.string(),
  website: z.string().default('').pipe(websiteField),
  _csrf: csrfField,
});

// Login checks only what it must: a wrong-looking email is just a wrong email.
export const loginForm = z.strictObject({
  email: z.string().trim().toLowerCase().max(254).refine(noControl),
  password: z
    .string()
    .min(1)
    .refine((value) => passwordBytes(value) <= MAX_PASSWORD_BYTES && !value.includes('\u0000')),
  remember: checkbox,
  next: z.string().optional(),
  _csrf: csrfField,
});
