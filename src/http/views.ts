import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Express } from 'express';
import nunjucks from 'nunjucks';

export const VIEWS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../views');

const dayFormat = new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeZone: 'UTC' });
const timeFormat = new Intl.DateTimeFormat('en-GB', { timeStyle: 'short', timeZone: 'UTC' });

/**
 * Nunjucks with autoescaping on: every value a template prints is HTML-escaped. Templates are
 * found in views/, then in `moreDirectories` (a test's pages keep theirs elsewhere).
 */
export function useViews(app: Express, noCache: boolean, moreDirectories: readonly string[] = []): void {
  const loader = new nunjucks.FileSystemLoader([VIEWS_DIR, ...moreDirectories], { noCache });
  const env = new nunjucks.Environment(loader, {
    autoescape: true,
    throwOnUndefined: false,
  });
  env.addFilter('date', (value: unknown) => (value instanceof Date ? dayFormat.format(value) : ''));
  env.addFilter('datetime', (value: unknown) =>
    value instanceof Date ? `${dayFormat.format(value)} at ${timeFormat.format(value)} UTC` : '',
  );
  env.addFilter('iso', (value: unknown) => (value instanceof Date ? value.toISOString() : ''));
  // The first field (in form order) that has an error: it gets autofocus.
  env.addFilter('firstError', (errors: unknown, order: unknown) =>
    Array.isArray(order) && typeof errors === 'object' && errors !== null
      ? (order.find((name) => typeof name === 'string' && name in errors) ?? '')
      : '',
  );
  env.addFilter('isHttpUrl', (value: unknown) => typeof value === 'string' && /^https?:\/\//i.test(value));
  env.express(app);
  app.set('view engine', 'njk');
}
