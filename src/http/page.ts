import { readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ProfileFlow } from '../flows/profile.js';
import type { PersonalData } from '../users/personal-data.js';
import type { Logger } from './logging.js';
import { Routes } from './routes.js';

/** What a page's routes may use (wired in app.ts): use cases, never a database pool. */
export interface PageServices {
  /** The user's profile and their own history (what was done to the account, and the export). */
  readonly profile: ProfileFlow;
  /** Everything Gatehouse keeps about a user, as one document (the export). */
  readonly personalData: PersonalData;
  readonly logger: Logger;
}

/** One page of the site: its routes, declared on `routes` (protected unless declared public). */
export interface Page {
  readonly declare: (routes: Routes, services: PageServices) => void;
}

/**
 * Defines a page: the default export of a file in src/pages/ whose name ends in "-page.ts".
 * The app finds it at start-up; nothing else needs to name it.
 *
 *     export default page((routes) => {
 *       routes.get('/reports', (req, res) => res.render('pages/reports.njk', { name: req.user.name }));
 *     });
 */
export const page = (declare: Page['declare']): Page => ({ declare });

const PAGE_FILE = /^[a-z0-9][a-z0-9-]*-page\.(?:js|ts)$/;

const isPage = (value: unknown): value is Page =>
  typeof value === 'object' && value !== null && typeof (value as { declare?: unknown }).declare === 'function';

/**
 * The routes of every page in `directories` ("*-page.ts", or ".js" once compiled), in file-name
 * order. A file that does not export a page stops start-up, naming the file.
 */
export async function loadPages(directories: readonly string[], services: PageServices): Promise<Routes> {
  const routes = new Routes();
  for (const directory of directories) {
    const files = readdirSync(directory)
      .filter((file) => PAGE_FILE.test(file))
      .sort();
    for (const file of files) {
      const full = path.join(directory, file);
      const loaded: unknown = (await import(pathToFileURL(full).href)) as unknown;
      const exported = (loaded as { default?: unknown }).default;
      if (!isPage(exported)) {
        throw new Error(`${full} is in a pages directory but its default export is not a page(...)`);
      }
      exported.declare(routes, services);
    }
  }
  return routes;
}
