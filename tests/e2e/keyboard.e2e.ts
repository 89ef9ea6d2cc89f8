import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { codeFromMail, detail, navigation, newUser, pathOf, registeredUser, useAppAndBrowser } from './support.js';

const e2e = useAppAndBrowser();

/** What has keyboard focus, and whether it shows a focus ring a sighted user can see. */
interface Focused {
  /** Tells apart two controls with the same description: the element's place in the document. */
  readonly position: number;
  readonly description: string;
  readonly name: string | null;
  readonly role: string;
  readonly label: string;
  /** Why the ring is not visible, or null when it is. */
  readonly ringProblem: string | null;
}

function whatIsFocused(page: Page): Promise<Focused | null> {
  return page.evaluate(() => {
    const element = document.activeElement;
    if (!(element instanceof HTMLElement) || element === document.body) return null;
    const tag = element.tagName.toLowerCase();
    const type = element.getAttribute('type');
    const label =
      element.getAttribute('aria-label') ??
      (element instanceof HTMLInputElement ? (element.labels?.[0]?.textContent ?? '') : (element.textContent ?? ''));
    const role = tag === 'a' ? 'link' : tag === 'button' ? 'button' : tag === 'input' ? `input ${type ?? 'text'}` : tag;
    const description = `${role} "${label.replace(/\s+/g, ' ').trim()}"`;

    const style = getComputedStyle(element);
    const transparent = (color: string) => /^(transparent|rgba\(.*,\s*0\))$/.test(color);
    const outline =
      style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2 && !transparent(style.outlineColor);
    const shadow = style.boxShadow !== 'none' && style.boxShadow !== '';
    const box = element.getBoundingClientRect();
    const onScreen =
      box.width > 0 &&
      box.height > 0 &&
      box.right > 0 &&
      box.bottom > 0 &&
      box.left < innerWidth &&
      box.top < innerHeight;
    const ringProblem = !element.matches(':focus-visible')
      ? 'not :focus-visible'
      : !onScreen
        ? `not on screen (${Math.round(box.left)},${Math.round(box.top)} ${Math.round(box.width)}×${Math.round(box.height)})`
        : !outline && !shadow
          ? `no focus ring (outline ${style.outlineStyle} ${style.outlineWidth} ${style.outlineColor}, box-shadow ${style.boxShadow})`
          : null;
    const position = [...document.querySelectorAll('*')].indexOf(element);
    return { position, description, name: element.getAttribute('name'), role, label: label.trim(), ringProblem };
  });
}

/**
 * A keyboard user on one page: presses Tab until `wanted` has focus, noting every control
 * focus lands on (each must show a ring).
 */
class KeyboardUser {
  readonly visited: string[] = [];
  readonly ringProblems: string[] = [];

  constructor(readonly page: Page) {}

  async tabTo(what: string, wanted: (focused: Focused) => boolean, maxPresses = 20): Promise<void> {
    const passed: string[] = [];
    for (let presses = 0; presses < maxPresses; presses++) {
      await this.page.keyboard.press('Tab');
      const focused = await whatIsFocused(this.page);
      if (!focused) continue;
      this.note(focused);
      passed.push(focused.description);
      if (wanted(focused)) return;
    }
    throw new Error(`Tab never reached ${what} on ${pathOf(this.page)}; focus went to: ${passed.join(' → ')}`);
  }

  /**
   * Tabs through every control on the page, from the top until focus leaves the page
   * (or comes round again), so that each one's focus ring is checked.
   */
  async tourPage(): Promise<void> {
    let first: number | undefined;
    for (let presses = 0; presses < 60; presses++) {
      await this.page.keyboard.press('Tab');
      const focused = await whatIsFocused(this.page);
      if (!focused) {
        if (first !== undefined) return;
        continue;
      }
      if (focused.position === first) return;
      first ??= focused.position;
      this.note(focused);
    }
    throw new Error(`Tab kept finding new controls on ${pathOf(this.page)}: ${this.visited.join('; ')}`);
  }

  private readonly seen = new Set<string>();

  private note(focused: Focused): void {
    const key = `${pathOf(this.page)}#${focused.position}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const where = `${pathOf(this.page)}: ${focused.description}`;
    this.visited.push(where);
    if (focused.ringProblem) this.ringProblems.push(`${where}: ${focused.ringProblem}`);
  }

  async typeInto(field: string, text: string): Promise<void> {
    await this.tabTo(`the ${field} field`, (focused) => focused.name === field);
    await this.page.keyboard.type(text);
  }
}

const named = (role: string, label: string) => (focused: Focused) => focused.role === role && focused.label === label;

describe('7. by keyboard alone', () => {
  it('signs up, logs out and logs back in with Tab, Enter and Space, with a visible focus ring on each control', async () => {
    const page = await e2e.freshPage();
    const user = newUser({ name: 'Keyboard Kim', website: 'https://kim.example' });
    const kim = new KeyboardUser(page);

    // Sign up: Tab through the page to each field, Enter on the button.
    await page.goto(e2e.app.url('/signup'));
    await kim.tourPage();
    await kim.typeInto('name', user.name);
    await kim.typeInto('email', user.email);
    await kim.typeInto('password', user.password);
    await kim.typeInto('confirm', user.password);
    await kim.typeInto('website', user.website);
    await kim.tabTo('the Sign up button', named('button', 'Sign up'));
    expect(await navigation(page, () => page.keyboard.press('Enter'))).toBe(200);
    expect(pathOf(page)).toBe('/');
    await expect(detail(page, 'Email').innerText()).resolves.toBe(user.email);

    // Log out: Space on the button.
    await kim.tourPage();
    await kim.tabTo('the Log out button', named('button', 'Log out'));
    expect(await navigation(page, () => page.keyboard.press('Space'))).toBe(200);
    expect(pathOf(page)).toBe('/login');

    // Log in again, ticking "remember me" with Space, and Enter on the button.
    await kim.tourPage();
    await kim.typeInto('email', user.email);
    await kim.typeInto('password', user.password);
    await kim.tabTo('the remember-me checkbox', (focused) => focused.name === 'remember');
    await page.keyboard.press('Space');
    await expect(page.getByRole('checkbox', { name: /^Remember me/ }).isChecked()).resolves.toBe(true);
    await kim.tabTo('the Log in button', named('button', 'Log in'));
    expect(await navigation(page, () => page.keyboard.press('Enter'))).toBe(200);
    expect(pathOf(page)).toBe('/');
    await expect(detail(page, 'Email').innerText()).resolves.toBe(user.email);

    expect(
      kim.ringProblems,
      `controls without a visible focus ring (focus visited: ${kim.visited.join('; ')})`,
    ).toEqual([]);
  });

  it('signs in with a code by email with Tab and Enter, with a visible focus ring on each control', async () => {
    const user = await registeredUser(e2e.app, { name: 'Keyboard Kai' });
    const page = await e2e.freshPage();
    const kai = new KeyboardUser(page);

    // From the login page a protected page sent them to, to the code's way in.
    await page.goto(e2e.app.url('/login?next=%2Faccount%2Fsessions'));
    await kai.tabTo('the sign-in code link', named('link', 'Email me a sign-in code'));
    expect(await navigation(page, () => page.keyboard.press('Enter'))).toBe(200);
    expect(pathOf(page)).toBe('/login/code?next=%2Faccount%2Fsessions');

    // Ask for a code: every control, then the address, Enter on the button.
    await kai.tourPage();
    await kai.typeInto('email', user.email);
    await kai.tabTo('the Email me a code button', named('button', 'Email me a code'));
    expect(await navigation(page, () => page.keyboard.press('Enter'))).toBe(200);
    expect(pathOf(page)).toBe('/login/code/enter');

    // Type the code from the mail, Enter on the button.
    await kai.tourPage();
    await kai.typeInto('code', await codeFromMail(e2e.app, user.email));
    await kai.tabTo('the Sign in button', named('button', 'Sign in'));
    expect(await navigation(page, () => page.keyboard.press('Enter'))).toBe(200);
    expect(pathOf(page)).toBe('/account/sessions');
    await expect(page.locator('.nav-user').innerText()).resolves.toBe(`Signed in as ${user.name}`);

    // Focus reached every control of both pages.
    const ask = '/login/code?next=%2Faccount%2Fsessions';
    expect(kai.visited).toEqual(
      expect.arrayContaining([
        `${ask}: input email "Email"`,
        `${ask}: input checkbox "Remember me for 30 days"`,
        `${ask}: button "Email me a code"`,
        `${ask}: link "Log in with it"`,
        '/login/code/enter: input text "Sign-in code"',
        '/login/code/enter: button "Sign in"',
        '/login/code/enter: link "Ask for a new code"',
      ]),
    );
    expect(
      kai.ringProblems,
      `controls without a visible focus ring (focus visited: ${kai.visited.join('; ')})`,
    ).toEqual([]);
  });
});
