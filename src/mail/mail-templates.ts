import nunjucks from 'nunjucks';
import { z } from 'zod';
import { VIEWS_DIR } from '../http/views.js';

const PRODUCT = 'Gatehouse';

const httpLink = z.url({ protocol: /^https?$/ });

/**
 * Control characters (C0, C1, DEL; line breaks included), bidirectional marks and overrides,
 * zero-width characters, and the line and paragraph separators: what could move a terminal's
 * cursor, start a line of its own, reorder what is read or hide text between two letters. For
 * String.replace only (it is /g, so .test would keep state); each caller picks the replacement:
 * mail a space, the admin command's tables "?".
 */
export const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/**
 * What people type (names) or browsers send (user agents, addresses) goes into mail clamped,
 * never refused: a value too long for a notice must not stop the notice, or fail the request
 * that sent it after its change was made. Unprintable characters become spaces.
 */
const clamped = (max: number) =>
  z.string().transform((value) => {
    const chars = [...value.replace(UNPRINTABLE, ' ').trim()];
    return chars.length <= max ? chars.join('') : `${chars.slice(0, max - 1).join('')}…`;
  });
/**
 * The greeting's name: only for a mail to an address that has proven itself. Mail to any other
 * address carries no text a visitor typed ("Hello Your bank: call ..."); callers leave it out.
 */
const greeting = clamped(100).optional();
// A Date from the caller, or the ISO string it became in the queue's JSON.
const instant = z.union([z.date(), z.iso.datetime()]).transform((value) => new Date(value));
/** What a notice of something done to the account tells: whom it greets, when, and from which address and browser. */
const noticeFacts = { name: greeting, when: instant, ip: clamped(64), browser: clamped(100) };

/** Each template's data, checked when a message is queued (a mistake fails in the request, not later). */
export const templateSchemas = {
  'password-reset': z.object({ name: greeting, link: httpLink, expiresInMinutes: z.number().int().positive() }),
  // To an address that has not proven itself yet, by definition: no name.
  'verify-email': z.object({ link: httpLink, expiresInHours: z.number().int().positive() }),
  'password-changed': z.object({ name: greeting, when: instant, ip: clamped(64), userAgent: clamped(100) }),
  // Sent to the old address, so its owner learns of a change they may not have asked for, and can stop it.
  'email-change-requested': z.object({
    name: greeting,
    newEmail: clamped(254),
    cancelLink: httpLink,
    expiresInDays: z.number().int().positive(),
  }),
  'new-sign-in': z.object(noticeFacts),
  // A change to how the account signs in: a second factor on or off, recovery codes, passkeys.
  'security-change': z.object({
    ...noticeFacts,
    change: z.enum([
      'totp-enabled',
      'totp-disabled',
      'recovery-codes-generated',
      'recovery-code-used',
      'mfa-reset',
      'passkey-added',
      'passkey-removed',
      'identity-connected',
      'identity-disconnected',
    ]),
    codesLeft: z.number().int().min(0).optional(),
    // The identity provider connected or disconnected (its configured label).
    provider: clamped(60).optional(),
  }),
  // Something an administrator did to the account from the console (which one is not said).
  'changed-by-admin': z.object({
    name: greeting,
    when: instant,
    change: z.enum(['sessions-ended', 'deactivated', 'reactivated', 'email-verified', 'passkey-removed']),
  }),
  // The right password, then wrong second-factor codes: someone may have the password.
  'second-factor-failed': z.object(noticeFacts),
  // A one-time code to sign in with, on a line of its own: XXX-XXX from the code alphabet.
  'login-code': z.object({
    name: greeting,
    code: z.string().regex(/^[A-HJ-NP-Z2-9]{3}-[A-HJ-NP-Z2-9]{3}$/),
    expiresInMinutes: z.number().int().positive(),
  }),
} as const;

/**
 * Work the mail worker does instead of a request: what a request must not be seen doing (is
 * there an account for this address?) is queued the same way whatever the answer, and the worker
 * finds out. Each job's handler is registered by the flow that owns it (Mailer.onJob).
 */
export const jobSchemas = {
  'password-reset-request': z.object({
    email: z.string().max(254),
    ip: clamped(64).nullable(),
    userAgent: clamped(512).nullable(),
  }),
  'verification-resend-request': z.object({ email: z.string().max(254) }),
  // The browser's request is the SHA-256 of its cookie's nonce, in hex: the code is bound to it.
  'login-code-request': z.object({
    email: z.string().max(254),
    request: z.string().regex(/^[0-9a-f]{64}$/),
    ip: clamped(64).nullable(),
    userAgent: clamped(512).nullable(),
  }),
} as const;

export type JobName = keyof typeof jobSchemas;
export type JobData<J extends JobName> = z.output<(typeof jobSchemas)[J]>;

export function isJobName(value: string): value is JobName {
  return Object.hasOwn(jobSchemas, value);
}

export type TemplateName = keyof typeof templateSchemas;
/** The changes a 'security-change' notice can name. */
export type FactorChange = z.input<(typeof templateSchemas)['security-change']>['change'];
/** What an administrator's change notice ('changed-by-admin') can name. */
export type AdminChange = z.input<(typeof templateSchemas)['changed-by-admin']>['change'];
/** What a caller passes for a template (dates as Date). */
export type TemplateData<T extends TemplateName> = z.input<(typeof templateSchemas)[T]>;

export const TEMPLATE_NAMES = Object.keys(templateSchemas) as TemplateName[];

export function isTemplateName(value: string): value is TemplateName {
  return Object.hasOwn(templateSchemas, value);
}

// Subjects are fixed per template: no user-provided value ever reaches a header.
const SUBJECTS: Record<TemplateName, string> = {
  'password-reset': `Reset your ${PRODUCT} password`,
  'verify-email': `Confirm your email address for ${PRODUCT}`,
  'password-changed': `Your ${PRODUCT} password was changed`,
  'email-change-requested': `Your ${PRODUCT} email address is being changed`,
  'new-sign-in': `New sign-in to your ${PRODUCT} account`,
  'security-change': `How you sign in to ${PRODUCT} has changed`,
  'second-factor-failed': `Someone may have your ${PRODUCT} password`,
  'changed-by-admin': `An administrator changed your ${PRODUCT} account`,
  'login-code': `Your ${PRODUCT} sign-in code`,
};

export interface RenderedMail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

const whenFormat = new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeStyle: 'short', timeZone: 'UTC' });

function environment(autoescape: boolean): nunjucks.Environment {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(VIEWS_DIR), {
    autoescape,
    throwOnUndefined: true,
    trimBlocks: true,
    lstripBlocks: true,
  });
  env.addFilter('when', (value: unknown) => (value instanceof Date ? `${whenFormat.format(value)} UTC` : ''));
  env.addGlobal('product', PRODUCT);
  return env;
}

/**
 * Renders views/mail/<template>.txt.njk and .html.njk. The HTML environment escapes every
 * value (a name of "<script>" shows as text); the text one does not, since nothing there is HTML.
 */
export function mailRenderer(publicUrl: string) {
  const html = environment(true);
  const text = environment(false);
  const links = { forgotPasswordUrl: `${publicUrl}/password/forgot`, publicUrl };
  return {
    /** `data` is what the queue stored; it is checked again here, as it came back from the database. */
    render(template: TemplateName, data: unknown): RenderedMail {
      const context = { ...templateSchemas[template].parse(data), ...links };
      return {
        subject: SUBJECTS[template],
        text: text.render(`mail/${template}.txt.njk`, context).trim() + '\n',
        html: html.render(`mail/${template}.html.njk`, context),
      };
    },
  };
}

export type MailRenderer = ReturnType<typeof mailRenderer>;
