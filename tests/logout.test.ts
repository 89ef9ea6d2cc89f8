import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from './support/test-app.js';
import { Browser, signedUpBrowser } from './support/browser.js';
import { expectSentToLogin } from './support/pages.js';
import { sidHash, sidOf } from './support/users.js';

let t: TestApp;
beforeAll(async () => {
  // Rate limits have their own tests; here many signups come from one address.
  t = await startTestApp({ SIGNUPS_PER_IP: '1000000' });
});
afterAll(async () => {
  await t.close();
});

/** How many rows hold the session with this id (found by its hash, as the table keeps it). */
const sessionRowCount = async (sid: string) =>
  Number((await t.pool.query('SELECT count(*) FROM sessions WHERE sid = $1', [sidHash(sid)])).rows[0].count);

/** The inside of the first <tag ...>...</tag> of a page. */
const section = (html: string, tag: 'main' | 'nav'): string => {
  const inner = new RegExp(`<${tag}\\b[^>]*>([\\s\\S]*?)</${tag}>`).exec(html)?.[1];
  if (inner === undefined) throw new Error(`the page has no <${tag}>`);
  return inner;
};

/** Forms that post to /logout, each with its hidden token, whose button reads "Log out". */
const logoutForms = (html: string): string[] =>
  [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)]
    .filter(([, attrs]) => /\bmethod="post"/i.test(attrs ?? '') && /\baction="\/logout"/.test(attrs ?? ''))
    .map(([, , body]) => body ?? '')
    .filter((body) => /<input\b[^>]*type="hidden"[^>]*name="_csrf"[^>]*value="[^"]+"/.test(body))
    .filter((body) => /<button\b[^>]*>\s*Log out\s*<\/button>/.test(body));

describe('GET /logout', () => {
  it('does not log out: it shows a "Log out" button that posts to /logout, and the dashboard still works', async () => {
    const { browser } = await signedUpBrowser(t.app);
    const page = await browser.get('/logout');
    expect(page.status).toBe(200);
    expect(logoutForms(section(page.text, 'main'))).toHaveLength(1);

    expect((await browser.get('/')).status).toBe(200);
  });

  it('shows the same "Log out" form to a visitor who is not logged in', async () => {
    const page = await new Browser(t.app).get('/logout');
    expect(page.status).toBe(200);
    expect(logoutForms(section(page.text, 'main'))).toHaveLength(1);
  });
});

describe('POST /logout', () => {
  it('with the form token sends the user to /login, deletes the session row and the old cookie opens nothing', async () => {
    const { browser } = await signedUpBrowser(t.app);
    expect((await browser.get('/')).status).toBe(200);
    const oldCookie = browser.sessionCookie();
    const oldSid = sidOf(browser);
    expect(await sessionRowCount(oldSid)).toBe(1);

    const response = await browser.submit('/logout', '/logout', {});
    expect(response.status).toBe(303);
    expect(response.headers['location']).toBe('/login');

    expect(await sessionRowCount(oldSid)).toBe(0);
    expectSentToLogin(
      await request(t.app)
        .get('/')
        .set('Cookie', oldCookie ?? ''),
    );
    expectSentToLogin(await browser.get('/'));
  });

  it('logs out from the button in the navigation of any logged-in page', async () => {
    const { browser } = await signedUpBrowser(t.app);
    const dashboard = await browser.get('/');
    const [navForm] = logoutForms(section(dashboard.text, 'nav'));
    const token = /name="_csrf" value="([^"]+)"/.exec(navForm ?? '')?.[1];
    expect(token).toBeDefined();

    const response = await browser.agent.post('/logout').type('form').send({ _csrf: token });
    expect(response.status).toBe(303);
    expect(response.headers['location']).toBe('/login');
    expectSentToLogin(await browser.get('/'));
  });

  it('without a token is refused with 403 and the user stays logged in', async () => {
    const { browser } = await signedUpBrowser(t.app);
    expect((await browser.get('/')).status).toBe(200); // the page gives the session a token
    const sid = sidOf(browser);

    const response = await browser.agent.post('/logout').type('form').send({});
    expect(response.status).toBe(403);

    expect(await sessionRowCount(sid)).toBe(1);
    expect((await browser.get('/')).status).toBe(200);
  });

  it("with another session's token is refused with 403 and the user stays logged in", async () => {
    const { browser } = await signedUpBrowser(t.app);
    expect((await browser.get('/')).status).toBe(200);
    const foreignToken = await new Browser(t.app).csrfFrom('/login');

    const response = await browser.agent.post('/logout').type('form').send({ _csrf: foreignToken });
    expect(response.status).toBe(403);
    expect((await browser.get('/')).status).toBe(200);
  });
});

describe('the navigation', () => {
  it("of a logged-in page shows the user's name and a Log out button that posts, and no Log in link", async () => {
    const { browser } = await signedUpBrowser(t.app, { name: 'Hedy Lamarr' });
    const nav = section((await browser.get('/')).text, 'nav');
    expect(nav).toContain('Hedy Lamarr');
    expect(logoutForms(nav)).toHaveLength(1);
    expect(nav).not.toMatch(/<a\b[^>]*href="\/login"/);
    expect(nav).not.toMatch(/<a\b[^>]*href="\/signup"/);
  });

  it('of an anonymous page shows Log in and Sign up links and no Log out button', async () => {
    for (const path of ['/login', '/signup', '/logout', '/no-such-page']) {
      const nav = section((await new Browser(t.app).get(path)).text, 'nav');
      expect(nav, path).toMatch(/<a\b[^>]*href="\/login"[^>]*>\s*Log in\s*<\/a>/);
      expect(nav, path).toMatch(/<a\b[^>]*href="\/signup"[^>]*>\s*Sign up\s*<\/a>/);
      expect(nav, path).not.toContain('/logout');
    }
  });
});
