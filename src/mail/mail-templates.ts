import nunjucks from 'nunjucks';
import { z } from 'zod';
import { VIEWS_DIR } from '../http/views.js';

const PRODUCT = 'Gatehouse';

const httpLink = z.url({ protocol: /^https?$/ });
// Values people type (names) or browsers send (user agents) go into mail: bounded so a huge one cannot bloat it.
const shortText = z.string().trim().min(1).max(200);
const longText = z.string().trim().max(500);
// A Date from the caller, or the ISO string it became in the queue's JSON.
const instant = z.union([z.date(), z.iso.datetime()]).transform((value) => new Date(value));

/** Each template's data, checked when a message is queued (a mistake fails in the request, not later). */
export const templateSchemas = {
  'password-reset': z.object({ name: shortText, link: httpLink, expiresInMinutes: z.number().int().positive() }),
  'verify-email': z.object({ name: shortText, link: httpLink, expiresInHours: z.number().int().positive() }),
  'password-changed': z.object({ name: shortText, when: instant, ip: longText, userAgent: longText }),
  // Sent to the old address, so its owner learns of a change they may not have asked for.
  'email-change-requested': z.object({ name: shortText, newEmail: z.string().trim().max(254) }),
  'new-sign-in': z.object({ name: shortText, when: instant, ip: longText, browser: longText }),
} as const;

export type TemplateName = keyof typeof templateSchemas;
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
