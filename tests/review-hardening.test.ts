import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, NEW_PASSWORD, PASSWORD, signedUpBrowser, uniqueEmail } from './support/browser.js';
import { expectCleanRefusal, flashesOn, isLoggedIn } from './support/pages.js';
import { TRUST_LOOPBACK, logIn, sidHashOf, signUp, uniqueIp, visitor } from './support/users.js';
import { mailMark, mailsAfter, openResetLink, pathOf, resetLinkFor, waitForMailTo } from './support/mail.js';
import { type TestApp, startTestApp } from './support/test-app.js';

/**
 * The rest of the attacker's review (issue 11): header values that broke
 * notices after their change was made, a reset link used across accounts,
 * unbounded sessions, and the smaller items.
 */

/** "Opera/" and 504 digits: a 511-character browser name, longer than any mail field allowed. */
const LONG_AGENT = `Opera/${'9'.repeat(504)}`;

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ ...TRUST_LOOPBACK });
});
afterAll(async () => {
  await t.close();
});

describe('a long User-Agent never breaks a change or silences its notice', () => {
  it('a login from it succeeds and mails the new-sign-in notice, its browser name clamped', async () => {
    const user = await signUp(t);
    const mark = await mailMark(t);
    const login = await logIn(visitor(t.app, uniqueIp(), LONG_AGENT), user.email);
    expect(login.status).toBe(303);
    const notice = await waitForMailTo(t, user.email, 'new-sign-in', mark);
    expect(notice.text).toContain('Opera');
    expect(notice.text).not.toContain('9'.repeat(200));
  });

  it('a password change from it succeeds (303) and mails the password-changed notice', async () => {
    const user = await signUp(t, { userAgent: LONG_AGENT });
    const mark = await mailMark(t);
    const changed = await user.browser.submit('/account/password', '/account/password', {
      current: PASSWORD,
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    expect(changed.status).toBe(303);
    await waitForMailTo(t, user.email, 'password-changed', mark);
  });

  it('a password reset from it succeeds and logs in', async () => {
    const user = await signUp(t);
    const mark = await mailMark(t);
    const browser = visitor(t.app, uniqueIp(), LONG_AGENT);
    await openResetLink(browser, await resetLinkFor(t, user.email, browser));
    const reset = await browser.submit('/password/reset', '/password/reset', {
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    expect(reset.status).toBe(303);
    expect(await isLoggedIn(browser)).toBe(true);
    await waitForMailTo(t, user.email, 'password-changed', mark);
  });

  it('a notice that cannot be queued is logged as an error; the login stands, and the browser is not marked known', async () => {
    const user = await signUp(t);
    const original = t.mailer.send.bind(t.mailer);
    // The queue refuses (a full disk, say) for the one notice this login sends.
    t.mailer.send = async () => {
      throw new Error('the outbox is unavailable');
    };
    const browser = visitor(
      t.app,
      uniqueIp(),
      'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0',
    );
    let login;
    try {
      login = await logIn(browser, user.email);
    } finally {
      t.mailer.send = original;
    }
    expect(login.status).toBe(303);
    expect(await isLoggedIn(browser)).toBe(true);
    expect(t.logs.join('\n')).toMatch(
      /"notice":"new-sign-in".*a notice could not be queued|a notice could not be queued.*"notice":"new-sign-in"/,
    );

    // The next login from that browser tries the notice again, and now it goes out.
    await browser.submit('/', '/logout', {});
    const mark = await mailMark(t);
    expect((await logIn(browser, user.email)).status).toBe(303);
    await waitForMailTo(t, user.email, 'new-sign-in', mark);
  });

  it('no header value makes any path answer 5xx', async () => {
    const user = await signUp(t);
    const hostile: Record<string, string>[] = [
      { 'User-Agent': LONG_AGENT },
      { 'User-Agent': 'x'.repeat(8000) },
      { 'User-Agent': 'Mozilla/5.0 (\u00e9\u00ff\u00a0)' },
      { 'User-Agent': '' },
      { 'X-Forwarded-For': 'not an address' },
      { 'X-Forwarded-For': Array.from({ length: 500 }, (_, i) => `10.0.${i % 250}.1`).join(', ') },
      { 'X-Forwarded-For': 'fe80::1%eth0' },
      { 'X-Forwarded-For': '::ffff:192.0.2.1' },
      { 'X-Forwarded-For': '1:2:3:4:5:6:7:8:9' },
      { 'Sec-Fetch-Site': 'x'.repeat(4000) },
      { Origin: 'null' },
      { Origin: '%%%' },
      { 'Accept-Language': '*;q=x'.repeat(500) },
      { Cookie: 'gatehouse.sid=s%3Anot-a-session.bad; gatehouse.device=~~~~; gatehouse.flash=%7B' },
      { Cookie: `gatehouse.device=${'A'.repeat(22)}~${'B'.repeat(22)}.`.repeat(100) },
    ];
    const problems: string[] = [];
    for (const headers of hostile) {
      const fresh = () => {
        const browser = new Browser(t.app);
        for (const [name, value] of Object.entries(headers)) browser.agent.set(name, value);
        return browser;
      };
      const browser = fresh();
      const answers = [
        await fresh().submit('/signup', '/signup', {
          name: 'Header Test',
          email: uniqueEmail('hdr'),
          password: PASSWORD,
          confirm: PASSWORD,
          website: '',
        }),
        await browser.get('/login'),
        await browser.submit('/login', '/login', { email: user.email, password: PASSWORD }),
        await browser.get('/'),
        await browser.get('/account/sessions'),
        await fresh().submit('/password/forgot', '/password/forgot', { email: user.email }),
        await fresh().get('/password/reset?token=abc'),
      ];
      for (const answer of answers) {
        if (answer.status >= 500) problems.push(`${JSON.stringify(headers).slice(0, 80)} → ${answer.status}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('a reset link opened while logged in as someone else', () => {
  it('is refused with a page that says so: nothing stored, the victim stays who they are', async () => {
    const attacker = await signUp(t);
    const victim = await signUp(t);
    const link = await resetLinkFor(t, attacker.email);

    const opened = await victim.browser.get(pathOf(link));
    expectCleanRefusal(opened, 409);
    expect(opened.text).toContain('This link is for another account');
    expect(opened.text).toContain(victim.email);
    expect(opened.text).toContain('action="/logout"');
    // Nothing was kept for the form: posting it finds no link.
    const posted = await victim.browser.submit('/', '/password/reset', {
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    expectCleanRefusal(posted);
    expect((await victim.browser.get('/')).text).toContain(victim.email);
    expect((await logIn(visitor(t.app), attacker.email)).status).toBe(303);
  });

  it('a link kept from before logging in is refused at the form too', async () => {
    const attacker = await signUp(t);
    const victim = await signUp(t);
    const link = await resetLinkFor(t, attacker.email);
    // The victim's browser opens the link while logged out, then logs in as themselves.
    const browser = visitor(t.app);
    expect((await openResetLink(browser, link)).page.text).toContain(attacker.email);
    await browser.csrfFrom('/password/reset'); // the form shows its token (throws when it has none)
    expect((await logIn(browser, victim.email)).status).toBe(303);
    const page = await browser.get('/password/reset');
    expectCleanRefusal(page);
    const posted = await browser.submit('/', '/password/reset', { password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    expectCleanRefusal(posted);
    expect((await browser.get('/')).text).toContain(victim.email);
    expect((await logIn(visitor(t.app), attacker.email)).status).toBe(303);
  });

  it('the reset form names the account it resets', async () => {
    const user = await signUp(t);
    const browser = visitor(t.app);
    const { page } = await openResetLink(browser, await resetLinkFor(t, user.email, browser));
    expect(page.text).toContain(user.email);
  });
});

describe('sessions per user are capped, and listed a page at a time', () => {
  let capped: TestApp;
  beforeAll(async () => {
    capped = await startTestApp({ SESSIONS_PER_USER: '3' });
  });
  afterAll(async () => {
    await capped.close();
  });

  it('a login beyond the cap ends the least recently used session', async () => {
    const { browser: first, fields } = await signedUpBrowser(capped.app);
    const logins: Browser[] = [first];
    for (let i = 0; i < 2; i += 1) {
      const browser = new Browser(capped.app);
      expect((await logIn(browser, fields.email)).status).toBe(303);
      logins.push(browser);
    }
    // The second login is made the least recently used: last seen an hour ago.
    await capped.pool.query("UPDATE sessions SET last_seen_at = now() - interval '1 hour' WHERE sid = $1", [
      sidHashOf(logins[1]!),
    ]);
    const fourth = new Browser(capped.app);
    expect((await logIn(fourth, fields.email)).status).toBe(303);
    const { rows } = await capped.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = $1',
      [fields.email],
    );
    expect(rows[0]?.n).toBe(3);
    expect(await isLoggedIn(logins[1]!)).toBe(false);
    for (const kept of [logins[0]!, logins[2]!, fourth]) expect(await isLoggedIn(kept)).toBe(true);
  });

  it('lists 20 a page, this browser first, with links to the other pages', async () => {
    const user = await signUp(t);
    // 24 other browsers signed in (rows as logins make them), plus this one.
    for (let i = 0; i < 24; i += 1) {
      await t.pool.query(
        `INSERT INTO sessions (sid, sess, expire, user_id, ip, user_agent)
         VALUES ($1, $2, localtimestamp + interval '1 hour', $3, $4, 'curl/8')`,
        [
          `seeded-${user.id}-${i}`,
          JSON.stringify({ userId: Number(user.id), authAt: Date.now() }),
          user.id,
          `192.0.2.${i}`,
        ],
      );
    }
    const first = await user.browser.get('/account/sessions');
    expect(first.status).toBe(200);
    const ids = (html: string) => [...html.matchAll(/name="id" value="([^"]+)"/g)].map((m) => m[1]);
    expect(ids(first.text)).toHaveLength(19); // 20 listed; this browser's own has "Log out" instead
    expect(first.text.indexOf('This browser')).toBeLessThan(first.text.indexOf('192.0.2.'));
    expect(first.text).toContain('Page 1 of 2');
    expect(first.text).toContain('href="/account/sessions?page=2"');
    const second = await user.browser.get('/account/sessions?page=2');
    expect(ids(second.text)).toHaveLength(5);
    expect(second.text).toContain('Page 2 of 2');
    expect(new Set([...ids(first.text), ...ids(second.text)]).size).toBe(24);
    expect((await user.browser.get('/account/sessions?page=abc')).text).toContain('Page 1 of 2');
    const beyond = await user.browser.get('/account/sessions?page=99');
    expect(beyond.status).toBe(303);
    expect(beyond.headers['location']).toBe('/account/sessions?page=2');
  });

  it("a session's public id is a random UUID, not a count of the site's sessions", async () => {
    const user = await signUp(t);
    await logIn(visitor(t.app), user.email);
    const page = await user.browser.get('/account/sessions');
    const ids = [...page.text.matchAll(/name="id" value="([^"]+)"/g)].map((m) => m[1]);
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('the smaller items', () => {
  it('refuses Sec-Fetch-Site: Cross-Site in any case', async () => {
    const browser = new Browser(t.app);
    const csrf = await browser.csrfFrom('/signup');
    for (const value of ['Cross-Site', 'CROSS-SITE', ' cross-site ']) {
      const answer = await browser.agent
        .post('/signup')
        .set('Sec-Fetch-Site', value)
        .type('form')
        .send({ _csrf: csrf, name: 'X', email: uniqueEmail(), password: PASSWORD, confirm: PASSWORD, website: '' });
      expectCleanRefusal(answer, 403);
    }
  });

  it('compares Origin with PUBLIC_URL when it is set, not with a host a proxy header names', async () => {
    const behindProxy = await t.sibling({ PUBLIC_URL: 'https://accounts.example.test', TRUST_PROXY: 'loopback' });
    const browser = new Browser(behindProxy.app);
    const csrf = await browser.csrfFrom('/login');
    const post = (origin: string, host: string) =>
      browser.agent
        .post('/login')
        .set('Origin', origin)
        .set('X-Forwarded-Host', host)
        .set('X-Forwarded-Proto', 'https')
        .type('form')
        .send({ _csrf: csrf, email: uniqueEmail(), password: 'whatever it is' });
    expectCleanRefusal(await post('https://evil.example', 'evil.example'), 403);
    expect((await post('https://accounts.example.test', 'evil.example')).status).toBe(422);
  });

  it('refuses a __proto__ field with 400, like any unknown field, and changes nothing', async () => {
    const browser = new Browser(t.app);
    const csrf = await browser.csrfFrom('/signup');
    const email = uniqueEmail('proto');
    const answer = await browser.agent
      .post('/signup')
      .type('form')
      .send(
        `_csrf=${encodeURIComponent(csrf)}&name=P&email=${encodeURIComponent(email)}&password=${encodeURIComponent(PASSWORD)}&confirm=${encodeURIComponent(PASSWORD)}&website=&__proto__=x`,
      );
    expectCleanRefusal(answer, 400);
    const { rows } = await t.pool.query('SELECT 1 FROM users WHERE email = $1', [email]);
    expect(rows).toEqual([]);
  });

  it.each([
    ['a login time that is not a number', '"yesterday"'],
    ['a login time in the future', String(Date.now() + 24 * 3600 * 1000)],
    ['no login time', 'null'],
  ])('treats a session with %s as expired', async (_label, authAt) => {
    const user = await signUp(t);
    expect(await isLoggedIn(user.browser)).toBe(true);
    await t.pool.query(
      `UPDATE sessions SET sess = (sess::jsonb || jsonb_build_object('authAt', $2::jsonb))::json WHERE sid = $1`,
      [sidHashOf(user.browser), authAt],
    );
    const answer = await user.browser.get('/');
    expect([302, 303]).toContain(answer.status);
    const login = await user.browser.get('/login?next=%2F');
    expect(flashesOn(login.text).join(' ')).toMatch(/expired/);
  });

  it('a visitor on the mail-link pages is never mailed anything by a GET', async () => {
    const mark = await mailMark(t);
    for (const path of ['/email/verify?token=x', '/email/change/cancel?token=x', '/password/reset?token=x']) {
      expect((await visitor(t.app).get(path)).status).toBeLessThan(500);
    }
    expect(await mailsAfter(t, mark, 100)).toEqual([]);
  });
});
