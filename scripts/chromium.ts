import { type Browser, chromium } from 'playwright-core';

/** Debian's Chromium unless CHROMIUM_PATH names another. */
export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] || '/usr/bin/chromium';

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/**
 * Chromium with the flags above, for the browser tests and the screenshots. The
 * profile is a fresh `--user-data-dir`: Playwright refuses that flag in `args`
 * and instead passes one it has just made with mkdtemp
 * (`$TMPDIR/playwright_chromiumdev_profile-*`), and deletes it when the browser closes.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_FLAGS });
}
