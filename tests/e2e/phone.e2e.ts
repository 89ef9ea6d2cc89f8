import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { logInWith, navigation, pathOf, registeredUser, useAppAndBrowser } from './support.js';

const e2e = useAppAndBrowser();

const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true };
const MIN_TARGET = 44;

/**
 * What is wrong with the page on a phone: horizontal scrolling, and controls (form fields,
 * buttons, navigation links) under 44 CSS px tall. A checkbox counts with its label, which is
 * part of its tap target.
 */
function phoneProblems(page: Page, state: string): Promise<string[]> {
  return page.evaluate(
    ({ state, min }) => {
      const problems: string[] = [];
      const root = document.documentElement;
      if (root.scrollWidth > root.clientWidth)
        problems.push(`${state}: scrolls sideways (${root.scrollWidth} px wide in a ${root.clientWidth} px viewport)`);

      const controls = document.querySelectorAll<HTMLElement>(
        'input:not([type="hidden"]), button, select, textarea, nav a[href]',
      );
      for (const control of controls) {
        const box = control.getBoundingClientRect();
        if (box.width === 0 && box.height === 0) continue; // not rendered (e.g. the skip link's hidden state)
        if (control.classList.contains('skip-link') || control.closest('.skip-link')) continue;
        let height = box.height;
        if (control instanceof HTMLInputElement && (control.type === 'checkbox' || control.type === 'radio')) {
          const boxes = [box, ...[...(control.labels ?? [])].map((label) => label.getBoundingClientRect())];
          height = Math.max(...boxes.map((b) => b.bottom)) - Math.min(...boxes.map((b) => b.top));
        }
        if (box.right > root.clientWidth + 0.5 || box.left < -0.5)
          problems.push(`${state}: ${describe(control)} sticks out of the viewport`);
        if (height < min - 0.5)
          problems.push(`${state}: ${describe(control)} is ${Math.round(height * 10) / 10} px tall`);
      }
      return problems;

      function describe(element: HTMLElement): string {
        const label =
          element.getAttribute('aria-label') ??
          (element instanceof HTMLInputElement
            ? (element.labels?.[0]?.textContent ?? element.name)
            : (element.textContent ?? ''));
        return `<${element.tagName.toLowerCase()}> "${label.replace(/\s+/g, ' ').trim()}"`;
      }
    },
    { state, min: MIN_TARGET },
  );
}

describe('8. on a phone-sized screen (390×844)', () => {
  it('never scrolls sideways and has every control at least 44 px tall, on every page', async () => {
    const user = await registeredUser(e2e.app, {
      name: 'Pat Phone-Owner with a rather long name to wrap',
      website: 'https://a-very-long-subdomain-name.example.com/and/a/long/path/that/could/overflow?x=1',
    });
    const page = await e2e.freshPage(PHONE);
    const problems: string[] = [];
    const check = async (state: string) => problems.push(...(await phoneProblems(page, state)));

    await page.goto(e2e.app.url('/signup'));
    await check('sign-up form');
    await navigation(page, () => page.getByRole('button', { name: 'Sign up' }).click());
    await check('sign-up form with errors');

    await page.goto(e2e.app.url('/'));
    expect(pathOf(page)).toBe('/login?next=%2F');
    await check('login form');
    expect(await logInWith(page, user.email, 'wrong password')).toBe(422);
    await check('login form with an error');
    expect(await logInWith(page, user.email, user.password)).toBe(200);
    expect(pathOf(page)).toBe('/');
    await check('dashboard');
    for (const path of [
      '/account',
      '/account/email',
      '/account/security',
      '/account/passkeys',
      '/account/sessions',
      '/account/activity',
      '/account/export',
    ]) {
      expect((await page.goto(e2e.app.url(path)))?.status(), path).toBe(200);
      await check(path);
    }
    await page.goto(e2e.app.url('/logout'));
    await check('log-out page');
    await page.goto(e2e.app.url('/no/such/page'));
    await check('404 page');

    expect(problems).toEqual([]);
  });
});
