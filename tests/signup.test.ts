import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from './support/test-app.js';
import { Browser, PASSWORD, signedUpBrowser, signupFields, uniqueEmail } from './support/browser.js';
import { badFields } from './support/corpus.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

const userCount = async () => Number((await t.pool.query('SELECT count(*) FROM users')).rows[0].count);
const userByEmail = async (email: string) =>
  (await t.pool.query('SELECT * FROM users WHERE lower(email) = lower($1)', [email])).rows[0];

describe('signing up', () => {
  it('shows a form with every field, wired to its label and autocomplete hint', async () => {
    const page = await new Browser(t.app).get('/signup');
    expect(page.status).toBe(200);
    for (const [name, autocomplete] of [
      ['name', 'name'],
      ['email', 'email'],
      ['password', 'new-password'],
      ['confirm', 'new-password'],
      ['website', 'url'],
    ]) {
      expect(page.text).toMatch(new RegExp(`<label for="${name}">`));
      expect(page.text).toMatch(new RegExp(`<input id="${name}" name="${name}"[^>]*autocomplete="${autocomplete}"`));
    }
    expect(page.text).toMatch(/<input type="hidden" name="_csrf" value="[^"]+">/);
  });

  it('creates the user, logs them in and sends them to the dashboard', async () => {
    const browser = new Browser(t.app);
    const fields = signupFields({ email: `  Mixed.Case-${Date.now()}@Example.COM `, website: 'https://ada.example' });
    const response = await browser.submit('/signup', '/signup', { ...fields });
    expect(response.status).toBe(303);
    expect(response.headers['location']).toBe('/');

    const row = await userByEmail(fields.email.trim());
    expect(row.email).toBe(fields.email.trim().toLowerCase());
    expect(row.name).toBe('Ada Lovelace');
    expect(row.website).toBe('https://ada.example');
    expect(row.password_hash).toMatch(/^\$2b\$04\$/);
    expect(row.password_hash).not.toContain(PASSWORD);
    expect(row.is_active).toBe(true);
    expect(row.created_at).toBeInstanceOf(Date);
    expect(row.last_login_at).toBeInstanceOf(Date);

    const dashboard = await browser.get('/');
    expect(dashboard.status).toBe(200);
    expect(dashboard.text).toContain('Ada Lovelace');
    expect(dashboard.text).toContain(row.email);
  });

  it('stores no website when the field is left empty or left out', async () => {
    const { fields } = await signedUpBrowser(t.app, { website: '   ' });
    expect((await userByEmail(fields.email)).website).toBeNull();
    const browser = new Browser(t.app);
    const { website: _w, ...withoutWebsite } = signupFields();
    const response = await browser.submit('/signup', '/signup', { ...withoutWebsite });
    expect(response.status).toBe(303);
    expect((await userByEmail(withoutWebsite.email)).website).toBeNull();
  });

  it.each(badFields())(
    'refuses %s = %j with 422, its message next to the field, and no new user',
    async (field, value) => {
      const before = await userCount();
      const browser = new Browser(t.app);
      const fields: Record<string, string> = { ...signupFields() };
      fields[field] = value;
      if (field === 'password') fields['confirm'] = value;
      const response = await browser.submit('/signup', '/signup', fields);
      expect(response.status).toBe(422);
      expect(response.text).toMatch(new RegExp(`<input id="${field}" name="${field}"[^>]*aria-invalid="true"`));
      expect(response.text).toMatch(new RegExp(`<p class="field-error" id="${field}-error">[^<]+</p>`));
      expect(await userCount()).toBe(before);
    },
  );

  it('uses the contract messages for each field', async () => {
    const browser = new Browser(t.app);
    const response = await browser.submit('/signup', '/signup', {
      name: ' ',
      email: 'nope',
      password: 'short',
      confirm: 'different',
      website: 'javascript:alert(1)',
    });
    expect(response.status).toBe(422);
    expect(response.text).toContain('This field is required.');
    expect(response.text).toContain('Enter a valid email.');
    expect(response.text).toContain('Select a stronger password.');
    expect(response.text).toContain('Passwords must match.');
    expect(response.text).toContain('Enter a valid URL.');
  });

  it('treats a field left out like a field left empty: 422 with its own message, and no user', async () => {
    const before = await userCount();
    const { name: _name, confirm: _confirm, ...rest } = signupFields();
    const response = await new Browser(t.app).submit('/signup', '/signup', { ...rest });
    expect(response.status).toBe(422);
    expect(response.text).toMatch(/<p class="field-error" id="name-error">This field is required\.<\/p>/);
    expect(response.text).toMatch(/<p class="field-error" id="confirm-error">Passwords must match\.<\/p>/);
    expect(await userCount()).toBe(before);
  });

  it('keeps the typed values but never echoes a password', async () => {
    const browser = new Browser(t.app);
    const secret = 'Sup3r-secret-passphrase';
    const response = await browser.submit('/signup', '/signup', {
      name: 'Grace <b>Hopper</b>',
      email: 'grace@example.com',
      password: secret,
      confirm: `${secret}x`,
      website: 'https://grace.example',
    });
    expect(response.status).toBe(422);
    expect(response.text).toContain('value="Grace &lt;b&gt;Hopper&lt;/b&gt;"');
    expect(response.text).toContain('value="grace@example.com"');
    expect(response.text).toContain('value="https://grace.example"');
    expect(response.text).not.toContain(secret);
  });

  it('caps names at 100 characters with a message naming the limit', async () => {
    const ok = await signedUpBrowser(t.app, { name: 'n'.repeat(100) });
    expect((await userByEmail(ok.fields.email)).name).toHaveLength(100);
    const response = await new Browser(t.app).submit('/signup', '/signup', {
      ...signupFields({ name: 'n'.repeat(101) }),
    });
    expect(response.status).toBe(422);
    expect(response.text).toContain('at most 100 characters');
  });

  it('counts the password limit in UTF-8 bytes: 72 are accepted, 73 refused with the limit named', async () => {
    const seventyTwo = 'é'.repeat(36); // 36 characters, 72 bytes
    const ok = await signedUpBrowser(t.app, { password: seventyTwo, confirm: seventyTwo });
    const login = await new Browser(t.app).submit('/login', '/login', { email: ok.fields.email, password: seventyTwo });
    expect(login.status).toBe(303);

    const seventyThree = `${seventyTwo}a`;
    const before = await userCount();
    const response = await new Browser(t.app).submit('/signup', '/signup', {
      ...signupFields({ password: seventyThree, confirm: seventyThree }),
    });
    expect(response.status).toBe(422);
    expect(response.text).toContain('72 bytes');
    expect(await userCount()).toBe(before);
  });

  it('accepts eight characters of any kind, spaces and emoji included, and stores nothing cut', async () => {
    const password = '🔑 🔑 🔑 🔑'; // 4 keys and 3 spaces: 7 characters, 19 bytes
    const refused = await new Browser(t.app).submit('/signup', '/signup', {
      ...signupFields({ password, confirm: password }),
    });
    expect(refused.status).toBe(422);
    const eight = `${password}!`;
    const { fields } = await signedUpBrowser(t.app, { password: eight, confirm: eight });
    const wrong = await new Browser(t.app).submit('/login', '/login', { email: fields.email, password: password });
    expect(wrong.status).toBe(422);
    const right = await new Browser(t.app).submit('/login', '/login', { email: fields.email, password: eight });
    expect(right.status).toBe(303);
  });

  it('refuses an email that is already taken, whatever its case', async () => {
    const { fields } = await signedUpBrowser(t.app);
    const before = await userCount();
    const response = await new Browser(t.app).submit('/signup', '/signup', {
      ...signupFields({ email: fields.email.toUpperCase() }),
    });
    expect(response.status).toBe(422);
    expect(response.text).toContain('A user already exists with that email address.');
    expect(await userCount()).toBe(before);
  });

  it('sends a logged-in user away from the form', async () => {
    const { browser } = await signedUpBrowser(t.app);
    const response = await browser.get('/signup');
    expect([302, 303]).toContain(response.status);
    expect(response.headers['location']).toBe('/');
  });

  it('lets two signups race for one email and creates exactly one user', async () => {
    const email = uniqueEmail('race');
    const browsers = [new Browser(t.app), new Browser(t.app)];
    const tokens = await Promise.all(browsers.map((b) => b.csrfFrom('/signup')));
    const responses = await Promise.all(
      browsers.map((b, i) =>
        b.agent
          .post('/signup')
          .type('form')
          .send({ _csrf: tokens[i], ...signupFields({ email }) }),
      ),
    );
    expect(responses.map((r) => r.status).sort()).toEqual([303, 422]);
    expect(Number((await t.pool.query('SELECT count(*) FROM users WHERE email = $1', [email])).rows[0].count)).toBe(1);
  });
});
