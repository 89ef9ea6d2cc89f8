import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { PASSWORD, navigation, registeredUser, uniqueEmail, useAppAndBrowser } from './support.js';

const e2e = useAppAndBrowser();

const FIELDS = ['name', 'email', 'password', 'confirm', 'website'] as const;
type Field = (typeof FIELDS)[number];
type Form = Record<Field, string>;

const good = (): Form => ({
  name: 'Katherine Johnson',
  email: uniqueEmail('katherine'),
  password: PASSWORD,
  confirm: PASSWORD,
  website: '',
});

const input = (page: Page, field: Field) => page.locator(`form[action="/signup"] input[name="${field}"]`);

/** Types `form` into the sign-up form, sends it with the button, returns the final status. */
async function submitSignup(page: Page, form: Form): Promise<number> {
  for (const field of FIELDS) await input(page, field).fill(form[field]);
  return navigation(page, () => page.getByRole('button', { name: 'Sign up' }).click());
}

const focusedField = (page: Page) => page.evaluate(() => document.activeElement?.getAttribute('name') ?? null);

/**
 * The field's own error, next to it: the input is marked invalid and described by an element
 * with exactly `message`, shown just below the input (or beside it), before the next control.
 */
async function expectErrorNextTo(page: Page, field: Field, message: string | RegExp) {
  const control = input(page, field);
  expect(await control.getAttribute('aria-invalid'), `${field} is marked invalid`).toBe('true');
  const describedBy = (await control.getAttribute('aria-describedby'))?.split(/\s+/) ?? [];
  const descriptions = await Promise.all(
    describedBy.map(async (id) => ({ id, text: (await page.locator(`[id="${id}"]`).innerText()).trim() })),
  );
  const own = descriptions.find((description) =>
    typeof message === 'string' ? description.text === message : message.test(description.text),
  );
  expect(
    own,
    `${field} is described by "${message}" (it is described by ${JSON.stringify(descriptions)})`,
  ).toBeDefined();

  const error = page.locator(`[id="${own?.id ?? ''}"]`);
  expect(await error.isVisible(), `the error of ${field} is visible`).toBe(true);
  const [errorBox, inputBox] = await Promise.all([error.boundingBox(), control.boundingBox()]);
  if (!errorBox || !inputBox) throw new Error(`no layout box for ${field} or its error`);
  const after = FIELDS[FIELDS.indexOf(field) + 1];
  const nextControl = after ? input(page, after) : page.getByRole('button', { name: 'Sign up' });
  const nextBox = await nextControl.boundingBox();
  if (!nextBox) throw new Error(`no layout box for the control after ${field}`);

  const below = errorBox.y >= inputBox.y + inputBox.height - 1 && errorBox.y - (inputBox.y + inputBox.height) <= 40;
  const beside = errorBox.x >= inputBox.x + inputBox.width - 1 && Math.abs(errorBox.y - inputBox.y) <= inputBox.height;
  expect(below || beside, `the error of ${field} is right below or beside it`).toBe(true);
  expect(errorBox.y + errorBox.height, `the error of ${field} comes before the next control`).toBeLessThanOrEqual(
    nextBox.y,
  );
}

/** Only these fields are marked invalid. */
async function expectInvalidFields(page: Page, fields: Field[]) {
  const invalid = await page
    .locator('form[action="/signup"] input[aria-invalid="true"]')
    .evaluateAll((inputs) => inputs.map((element) => element.getAttribute('name')));
  expect(invalid).toEqual(fields);
}

describe('6. sign-up field errors in a real browser', () => {
  it('shows every field error next to its field and moves focus to the first invalid field', async () => {
    const existing = await registeredUser(e2e.app);
    const page = await e2e.freshPage();
    await page.goto(e2e.app.url('/signup'));

    // Everything wrong at once: each field says what is wrong with it, and the name has focus.
    const allWrong = {
      name: '   ',
      email: 'not-an-email',
      password: 'short',
      confirm: 'other',
      website: 'ftp://x.example',
    };
    expect(await submitSignup(page, allWrong)).toBe(422);
    await expectErrorNextTo(page, 'name', 'This field is required.');
    await expectErrorNextTo(page, 'email', 'Enter a valid email.');
    await expectErrorNextTo(page, 'password', 'Select a stronger password.');
    await expectErrorNextTo(page, 'confirm', 'Passwords must match.');
    await expectErrorNextTo(page, 'website', 'Enter a valid URL.');
    expect(await focusedField(page)).toBe('name');
    // Typed values are kept, never the passwords.
    await expect(input(page, 'email').inputValue()).resolves.toBe('not-an-email');
    await expect(input(page, 'website').inputValue()).resolves.toBe('ftp://x.example');
    await expect(input(page, 'password').inputValue()).resolves.toBe('');
    await expect(input(page, 'confirm').inputValue()).resolves.toBe('');

    // One field wrong at a time: its error, and focus on it.
    const cases: Array<{ wrong: Partial<Form>; field: Field; message: string | RegExp }> = [
      {
        wrong: { email: existing.email.toUpperCase() },
        field: 'email',
        message: 'A user already exists with that email address.',
      },
      { wrong: { password: 'password123', confirm: 'password123' }, field: 'password', message: /too common/ },
      {
        wrong: { password: 'é'.repeat(37), confirm: 'é'.repeat(37) },
        field: 'password',
        message: /must be at most 72 bytes/,
      },
      { wrong: { confirm: `${PASSWORD}!` }, field: 'confirm', message: 'Passwords must match.' },
      { wrong: { website: 'javascript:alert(1)' }, field: 'website', message: 'Enter a valid URL.' },
    ];
    for (const { wrong, field, message } of cases) {
      expect(await submitSignup(page, { ...good(), ...wrong }), `status for a wrong ${field}`).toBe(422);
      await expectErrorNextTo(page, field, message);
      await expectInvalidFields(page, [field]);
      expect(await focusedField(page), `focus after a wrong ${field}`).toBe(field);
    }
  });
});
