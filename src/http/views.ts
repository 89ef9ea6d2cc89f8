import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Express } from 'express';
import nunjucks from 'nunjucks';

export const VIEWS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../views');

const dateFormat = new Intl.DateTimeFormat('en-GB', {
  dateStyle: 'medium',
  timeStyle: 'short',
  timeZone: 'UTC',
});

/** Nunjucks with autoescaping on: every value a template prints is HTML-escaped. */
export function useViews(app: Express, noCache: boolean): void {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(VIEWS_DIR, { noCache }), {
    autoescape: true,
    throwOnUndefined: false,
  });
  env.addFilter('datetime', (value: unknown) => (value instanceof Date ? `${dateFormat.format(value)} UTC` : ''));
  env.addFilter('iso', (value: unknown) => (value instanceof Date ? value.toISOString() : ''));
  env.addFilter('isHttpUrl', (value: unknown) => typeof value === 'string' && /^https?:\/\//i.test(value));
  env.express(app);
  app.set('view engine', 'njk');
}
