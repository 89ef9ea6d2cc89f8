import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Express } from 'express';
import nunjucks from 'nunjucks';

export const VIEWS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../views');

// Dates as en-GB writes them ("30 November 2026", "07:58"), always in UTC. Spelled out here
// rather than with Intl.DateTimeFormat, whose format() was a visible share of a page view.
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const day = (date: Date) => `${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()}`;
const time = (date: Date) =>
  `${String(date.getUTCHours()).padStart(2, '0')}:${String(date.getUTCMinutes()).padStart(2, '0')}`;

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
  env.addFilter('date', (value: unknown) => (value instanceof Date ? day(value) : ''));
  env.addFilter('datetime', (value: unknown) => (value instanceof Date ? `${day(value)} at ${time(value)} UTC` : ''));
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
