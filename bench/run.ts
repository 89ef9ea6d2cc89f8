/**
 * `npm run bench [-- --quick] [--cost N] [--seconds N] [--connections N]`
 *
 *   --quick          2 s per figure instead of 10 (under a minute in all)
 *   --cost N         bcrypt work factor (default BCRYPT_COST, else 12)
 *   --seconds N      seconds per figure
 *   --connections N  concurrent connections for the throughput figures (default 10)
 *
 * Starts Gatehouse and a bare Express 5 "hello" app in one child process
 * (bench/server.ts) on loopback, drives them with autocannon from this
 * process, and prints every figure side by side with the bare ceiling measured
 * in the same run. Real Postgres when DATABASE_URL is set (a fresh
 * gatehouse_bench_* database on that server, dropped at the end), else an
 * embedded PGlite in a temporary directory. The table is also written to
 * bench/results/latest.json.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pg from 'pg';
import type { ChildReply, ChildRequest } from './protocol.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PASSWORD = 'bench: correct horse battery staple 42';

// ---------------------------------------------------------------- options

interface Options {
  readonly quick: boolean;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly cost: number;
  readonly connections: number;
}

function parseArgs(argv: readonly string[]): Options {
  const quick = argv.includes('--quick');
  const valueOf = (flag: string): number | undefined => {
    const index = argv.indexOf(flag);
    if (index === -1) return undefined;
    const value = Number(argv[index + 1]);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`${flag} needs a positive number`);
    return value;
  };
  return {
    quick,
    seconds: valueOf('--seconds') ?? (quick ? 2 : 10),
    warmupSeconds: quick ? 1 : 2,
    cost: valueOf('--cost') ?? Number(process.env['BCRYPT_COST'] ?? 12),
    connections: valueOf('--connections') ?? 10,
  };
}

// ---------------------------------------------------------------- child processes

interface Child {
  readonly process: ChildProcess;
  readonly appPort: number;
  readonly helloPort: number | null;
  readonly embedded: boolean;
  ask<T extends ChildReply['type']>(request: ChildRequest, reply: T): Promise<Extract<ChildReply, { type: T }>>;
  stop(): Promise<void>;
}

function startChild(env: Record<string, string>): Promise<Child> {
  const child = fork(path.join(HERE, 'server.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ask = <T extends ChildReply['type']>(request: ChildRequest, reply: T) =>
    new Promise<Extract<ChildReply, { type: T }>>((resolve) => {
      const onMessage = (message: ChildReply) => {
        if (message.type !== reply) return;
        child.off('message', onMessage);
        resolve(message as Extract<ChildReply, { type: T }>);
      };
      child.on('message', onMessage);
      child.send(request);
    });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bench server exited with code ${code ?? 'null'}`)));
    child.on('message', (message: ChildReply) => {
      if (message.type !== 'ready') return;
      resolve({
        process: child,
        appPort: message.appPort,
        helloPort: message.helloPort,
        embedded: message.embedded,
        ask,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.send({ type: 'stop' });
            setTimeout(() => child.kill('SIGKILL'), 5000).unref();
          }),
      });
    });
  });
}

// ---------------------------------------------------------------- a database for this run only

interface BenchDatabase {
  readonly env: Record<string, string>;
  readonly label: string;
  readonly real: boolean;
  drop(): Promise<void>;
}

async function benchDatabase(): Promise<BenchDatabase> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'gh-bench-'));
  const adminUrl = process.env['DATABASE_URL'];
  if (!adminUrl) {
    return {
      env: { BENCH_DATA_DIR: dataDir },
      label: 'embedded PGlite (DATABASE_URL unset), in a temporary directory',
      real: false,
      drop: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  const name = `gatehouse_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const shown = new URL(url);
  shown.password = shown.password ? '***' : '';
  return {
    env: { BENCH_DATA_DIR: dataDir, BENCH_DATABASE_URL: url.toString() },
    label: `real Postgres (DATABASE_URL), fresh database ${shown.host}/${name}`,
    real: true,
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------- HTTP helpers (setup only, never timed)

const sidOf = (response: Response): string | undefined =>
  response.headers
    .getSetCookie()
    .map((cookie) => cookie.split(';')[0] ?? '')
    .find((cookie) => cookie.startsWith('gatehouse.sid='));

const csrfOf = (html: string): string => {
  const match = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!match?.[1]) throw new Error('no _csrf field in the form');
  return match[1];
};

interface FormSession {
  readonly cookie: string;
  readonly csrf: string;
}

async function formSession(base: string, page: string): Promise<FormSession> {
  const response = await fetch(`${base}${page}`);
  const cookie = sidOf(response);
  const csrf = csrfOf(await response.text());
  if (!cookie) throw new Error(`GET ${page} set no session cookie`);
  return { cookie, csrf };
}

/** Signs one user up over HTTP and returns its session cookie. */
async function signUp(base: string): Promise<{ email: string; cookie: string }> {
  const email = `bench-${randomBytes(4).toString('hex')}@example.com`;
  const form = await formSession(base, '/signup');
  const response = await fetch(`${base}/signup`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: form.cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: form.csrf, name: 'Bench', email, password: PASSWORD, confirm: PASSWORD }),
  });
  const cookie = sidOf(response);
  if (response.status !== 303 || !cookie) throw new Error(`sign-up answered ${response.status}`);
  // The first page view stores the logout form's CSRF token: a one-off write, before anything is measured.
  const home = await fetch(`${base}/`, { headers: { cookie }, redirect: 'manual' });
  if (home.status !== 200) throw new Error(`GET / after sign-up answered ${home.status}`);
  await home.text();
  return { email, cookie };
}

/** Anonymous sessions with a login form's token, each good for one login. */
async function loginForms(base: string, count: number): Promise<FormSession[]> {
  const forms: FormSession[] = [];
  const worker = async () => {
    while (forms.length < count) forms.push(await formSession(base, '/login'));
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return forms;
}

// ---------------------------------------------------------------- load

interface Figure {
  readonly name: string;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  readonly unexpected: number;
  readonly ratioToCeiling?: number;
  readonly note?: string;
}

type Run = autocannon.Options & { expect: number };

function load({ expect, ...options }: Run, times?: number[]): { result: Promise<autocannon.Result>; stop(): void } {
  let instance: autocannon.Instance | undefined;
  const result = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(options, (error: unknown, result: autocannon.Result) =>
      error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(result),
    );
    // Each response's own latency (ms), where a figure needs exact percentiles of few requests.
    if (times) instance.on('response', (_client, _status, _bytes, responseTime: number) => times.push(responseTime));
  }).then((result) => {
    const expected = result.statusCodeStats?.[`${expect}` as `${number}`]?.count ?? 0;
    (result as autocannon.Result & { unexpected: number }).unexpected =
      result.requests.total - expected + result.errors + result.timeouts;
    return result;
  });
  return { result, stop: () => instance?.stop() };
}

const unexpectedOf = (result: autocannon.Result): number =>
  (result as autocannon.Result & { unexpected: number }).unexpected;

function figure(name: string, result: autocannon.Result, extra: Partial<Figure> = {}): Figure {
  return {
    name,
    requestsPerSecond: result.requests.total / Math.max(result.duration, 0.001),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    unexpected: unexpectedOf(result),
    ...extra,
  };
}

const percentile = (values: readonly number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
};

// ---------------------------------------------------------------- the run

interface Goal {
  readonly goal: string;
  readonly measured: string;
  readonly met: boolean | null;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const { seconds, warmupSeconds, connections } = options;
  const started = Date.now();
  const log = (message: string) => process.stderr.write(`· ${message}\n`);

  const database = await benchDatabase();
  const children: Child[] = [];
  const cleanup = async () => {
    await Promise.all(children.map((child) => child.stop()));
    await database.drop();
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

  try {
    const env = { ...database.env, BENCH_COST: String(options.cost) };
    log(
      `starting the bench server (${database.real ? 'real Postgres' : 'embedded PGlite'}, bcrypt cost ${options.cost})`,
    );
    const mainChild = await startChild({ ...env, BENCH_HELLO: '1' });
    children.push(mainChild);
    // The second process for the one-process-per-core figure starts before anything is measured, and idles until then.
    const secondChild = database.real ? await startChild(env) : undefined;
    if (secondChild) children.push(secondChild);
    const base = `http://127.0.0.1:${mainChild.appPort}`;
    const helloUrl = `http://127.0.0.1:${mainChild.helloPort ?? 0}/`;
    const user = await signUp(base);
    const authHeaders = { cookie: user.cookie };

    const counted = async <T>(child: Child, run: () => Promise<T>) => {
      // Requests a timed run left in flight finish first: wait until the counters stand still.
      let before = await child.ask({ type: 'counters' }, 'counters');
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        const now = await child.ask({ type: 'counters' }, 'counters');
        if (now.queries === before.queries) break;
        before = now;
      }
      const value = await run();
      const after = await child.ask({ type: 'counters' }, 'counters');
      return {
        value,
        queries: after.queries - before.queries,
        sessionWrites: after.sessionWrites - before.sessionWrites,
        statements: Object.fromEntries(
          Object.entries(after.byStatement)
            .map(([text, count]) => [text, count - (before.byStatement[text] ?? 0)] as const)
            .filter(([, count]) => count > 0),
        ),
      };
    };
    const warm = (run: Run) => load({ ...run, duration: warmupSeconds }).result;
    const measure = async (run: Run) => {
      await warm(run);
      return load({ ...run, duration: seconds }).result;
    };

    const figures: Figure[] = [];
    const countedViews = options.quick ? 300 : 2000;

    // 1. The ceiling: a bare Express 5 route in the same process.
    log('bare Express 5 hello (the ceiling)');
    const ceilingResult = await measure({ url: helloUrl, connections, expect: 200 });
    const ceiling = ceilingResult.requests.total / ceilingResult.duration;
    const vsCeiling = (result: autocannon.Result) => result.requests.total / result.duration / ceiling;
    figures.push(figure('bare Express 5 "hello" (ceiling)', ceilingResult, { ratioToCeiling: 1 }));

    // 2. Anonymous GET /login: a rendered form (and a new session for its token).
    log('anonymous GET /login');
    await warm({ url: `${base}/login`, connections, expect: 200 });
    const anonResult = await load({ url: `${base}/login`, connections, duration: seconds, expect: 200 }).result;
    // Counted over an exact number of requests, so none is left in flight when the counters are read.
    const anon = await counted(
      mainChild,
      () => load({ url: `${base}/login`, connections, amount: countedViews, expect: 200 }).result,
    );
    figures.push(figure('anonymous GET /login', anonResult, { ratioToCeiling: vsCeiling(anonResult) }));

    // 3. Authenticated GET /: session lookup, user load, render.
    log('authenticated GET /');
    const authRun: Run = { url: `${base}/`, connections, headers: authHeaders, expect: 200 };
    await warm(authRun);
    const authResult = await load({ ...authRun, duration: seconds }).result;
    const auth = await counted(mainChild, () => load({ ...authRun, amount: countedViews }).result);
    figures.push(figure('authenticated GET /', authResult, { ratioToCeiling: vsCeiling(authResult) }));

    const loginRun = (forms: FormSession[], extra: Partial<Run>): Run => {
      const body = (form: FormSession) =>
        new URLSearchParams({ _csrf: form.csrf, email: user.email, password: PASSWORD, next: '/' }).toString();
      let next = 0;
      return {
        url: `${base}/login`,
        expect: 303,
        requests: [
          {
            method: 'POST',
            path: '/login',
            setupRequest: (request) => {
              // Each login uses up one anonymous session (the id is regenerated): never reuse one.
              const form = forms[Math.min(next++, forms.length - 1)] as FormSession;
              return {
                ...request,
                headers: {
                  ...request.headers,
                  cookie: form.cookie,
                  'content-type': 'application/x-www-form-urlencoded',
                },
                body: body(form),
              };
            },
          },
        ],
        ...extra,
      };
    };

    // 4. POST /login one at a time against one bare bcrypt.compare at the same cost, interleaved
    //    (bcrypt, logins, bcrypt, logins) so that a noisy neighbour weighs on both alike.
    log(`POST /login one at a time, interleaved with bare bcrypt.compare at cost ${options.cost}`);
    await load(loginRun(await loginForms(base, 2), { connections: 1, amount: 2 })).result;
    const bcryptTimes: number[] = [];
    const loginTimes: number[] = [];
    let loginBad = 0;
    const halfMs = (seconds * 1000) / 2;
    for (let round = 0; round < 2; round++) {
      const times = (await mainChild.ask({ type: 'bcrypt', min: 3, ms: halfMs }, 'bcrypt')).times;
      bcryptTimes.push(...times);
      const mean = bcryptTimes.reduce((sum, time) => sum + time, 0) / bcryptTimes.length;
      const count = Math.max(3, Math.round(halfMs / mean));
      const run = load(loginRun(await loginForms(base, count), { connections: 1, amount: count }), loginTimes);
      loginBad += unexpectedOf(await run.result);
    }
    const bcryptP50 = percentile(bcryptTimes, 50);
    const bcryptMean = bcryptTimes.reduce((sum, time) => sum + time, 0) / bcryptTimes.length;
    figures.push({
      name: `bare bcrypt.compare, cost ${options.cost} (one at a time)`,
      requestsPerSecond: 1000 / bcryptMean,
      p50Ms: bcryptP50,
      p99Ms: percentile(bcryptTimes, 99),
      requests: bcryptTimes.length,
      unexpected: 0,
    });
    const loginMean = loginTimes.reduce((sum, time) => sum + time, 0) / Math.max(loginTimes.length, 1);
    const loginP50Ratio = percentile(loginTimes, 50) / bcryptP50;
    figures.push({
      name: 'POST /login, right password, one at a time',
      requestsPerSecond: 1000 / loginMean,
      p50Ms: percentile(loginTimes, 50),
      p99Ms: percentile(loginTimes, 99),
      requests: loginTimes.length,
      unexpected: loginBad,
      ratioToCeiling: 1000 / loginMean / ceiling,
      note: `p50 ${loginP50Ratio.toFixed(2)}× one bare bcrypt.compare`,
    });

    // 5. Authenticated GET / p99 at a steady rate, without and with 4 concurrent logins.
    const steadyRate = Math.max(50, Math.round((authResult.requests.total / authResult.duration) * 0.25));
    const steadyRun: Run = { ...authRun, connections: 4, overallRate: steadyRate, duration: seconds };
    log(`authenticated GET / at a steady ${steadyRate} req/s, alone`);
    const alone = await load(steadyRun).result;
    figures.push(
      figure(`authenticated GET /, steady ${steadyRate} req/s`, alone, { ratioToCeiling: vsCeiling(alone) }),
    );
    log(`authenticated GET / at a steady ${steadyRate} req/s, with 4 logins at once`);
    const concurrentForms = await loginForms(base, Math.ceil(((4 * seconds * 1000) / bcryptMean) * 1.5) + 20);
    const logins = load(loginRun(concurrentForms, { connections: 4, duration: seconds + 5 }));
    await new Promise((resolve) => setTimeout(resolve, Math.min(1000, bcryptMean * 2)));
    const withLogins = await load(steadyRun).result;
    logins.stop();
    const loginsDuring = await logins.result;
    const p99Ratio = withLogins.latency.p99 / Math.max(alone.latency.p99, 0.001);
    figures.push(
      figure(`authenticated GET /, steady ${steadyRate} req/s, 4 logins at once`, withLogins, {
        ratioToCeiling: vsCeiling(withLogins),
        note: `p99 ${p99Ratio.toFixed(2)}× alone; ${loginsDuring.requests.total} logins meanwhile`,
      }),
    );

    // 6. One process per core: the same authenticated GET / against two processes on one database.
    let cluster: { one: Figure; two: Figure; gain: number } | undefined;
    if (secondChild) {
      const other = secondChild;
      log('authenticated GET /: one process, then two processes (one per core)');
      const oneResult = await measure({ ...authRun, duration: seconds });
      const half = Math.max(1, Math.round(connections / 2));
      const otherRun: Run = { ...authRun, url: `http://127.0.0.1:${other.appPort}/` };
      await Promise.all([warm({ ...authRun, connections: half }), warm({ ...otherRun, connections: half })]);
      const [a, b] = await Promise.all([
        load({ ...authRun, connections: half, duration: seconds }).result,
        load({ ...otherRun, connections: half, duration: seconds }).result,
      ]);
      const total = a.requests.total + b.requests.total;
      const two: Figure = {
        name: 'authenticated GET /, 2 processes (1 per core)',
        requestsPerSecond: a.requests.total / a.duration + b.requests.total / b.duration,
        p50Ms: (a.latency.p50 * a.requests.total + b.latency.p50 * b.requests.total) / Math.max(total, 1),
        p99Ms: Math.max(a.latency.p99, b.latency.p99),
        requests: total,
        unexpected: unexpectedOf(a) + unexpectedOf(b),
      };
      const one = figure('authenticated GET /, 1 process (side by side)', oneResult);
      const gain = two.requestsPerSecond / one.requestsPerSecond;
      cluster = {
        one: { ...one, ratioToCeiling: one.requestsPerSecond / ceiling },
        two: { ...two, ratioToCeiling: two.requestsPerSecond / ceiling, note: `${gain.toFixed(2)}× one process` },
        gain,
      };
      figures.push(cluster.one, cluster.two);
    }

    // Peak memory, before the servers go away.
    const rss = await Promise.all(
      children.map(async (child) => (await child.ask({ type: 'counters' }, 'counters')).maxRssBytes),
    );
    const runnerRss = process.resourceUsage().maxRSS * 1024;

    const authViews = auth.value.requests.total;
    const anonViews = anon.value.requests.total;
    const counts = {
      sqlRoundTripsPerAuthenticatedView: auth.queries / Math.max(authViews, 1),
      sessionWritesPerAuthenticatedView: auth.sessionWrites / Math.max(authViews, 1),
      sqlRoundTripsPerAnonymousView: anon.queries / Math.max(anonViews, 1),
      sessionWritesPerAnonymousView: anon.sessionWrites / Math.max(anonViews, 1),
      authenticatedViews: authViews,
      authenticatedSessionWrites: auth.sessionWrites,
      anonymousViews: anonViews,
      anonymousSessionWrites: anon.sessionWrites,
    };
    const statements = { authenticatedView: auth.statements, anonymousView: anon.statements, views: countedViews };

    const authRatio = vsCeiling(authResult);
    const goals: Goal[] = [
      {
        goal: 'authenticated GET / ≥ 40% of the bare Express ceiling',
        measured: `${(authRatio * 100).toFixed(1)}%`,
        met: authRatio >= 0.4,
      },
      {
        goal: '≤ 2 SQL round trips per authenticated page view',
        measured: counts.sqlRoundTripsPerAuthenticatedView.toFixed(2),
        met: counts.sqlRoundTripsPerAuthenticatedView <= 2,
      },
      {
        // One session, viewed for `seconds`: the expiry moves at most once a minute, so at most one write.
        goal: 'no session write per authenticated view (touch ≤ once a minute)',
        measured: `${auth.sessionWrites} writes in ${authViews} views`,
        met: auth.sessionWrites <= Math.ceil(seconds / 60),
      },
      {
        goal: 'POST /login p50 (one at a time) ≤ 1.2× one bare bcrypt.compare',
        measured: `${loginP50Ratio.toFixed(2)}×`,
        met: loginP50Ratio <= 1.2,
      },
      {
        goal: 'authenticated GET / p99 with 4 logins ≤ 3× its p99 without',
        measured: `${p99Ratio.toFixed(2)}×`,
        met: p99Ratio <= 3,
      },
      {
        goal: 'more than one core: 2 processes serve ≥ 1.05× one',
        measured: cluster ? `${cluster.gain.toFixed(2)}×` : 'not measured (embedded Postgres serves one process)',
        met: cluster ? cluster.gain >= 1.05 : null,
      },
    ];

    const result = {
      date: new Date().toISOString(),
      database: database.label,
      node: process.version,
      cpus: (await import('node:os')).availableParallelism(),
      quick: options.quick,
      secondsPerFigure: seconds,
      connections,
      bcryptCost: options.cost,
      figures,
      counts,
      statements,
      goals,
      peakRssBytes: { benchServer: rss[0], secondServer: rss[1] ?? null, runner: runnerRss },
      totalSeconds: (Date.now() - started) / 1000,
    };

    print(result, cluster === undefined);
    const resultsDir = path.join(HERE, 'results');
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(path.join(resultsDir, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`\nWritten to bench/results/latest.json\n`);
  } finally {
    await cleanup();
  }
}

// ---------------------------------------------------------------- the table

const mib = (bytes: number | null | undefined) => (bytes == null ? '-' : `${(bytes / 1024 / 1024).toFixed(0)} MiB`);
const ms = (value: number) => (value >= 100 ? value.toFixed(0) : value.toFixed(value >= 10 ? 1 : 2));

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  const line = (row: string[]) =>
    row
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0)))
      .join('  ');
  const [head, ...body] = rows;
  return [line(head ?? []), widths.map((width) => '-'.repeat(width)).join('  '), ...body.map(line)].join('\n');
}

interface Printed {
  readonly database: string;
  readonly node: string;
  readonly cpus: number;
  readonly secondsPerFigure: number;
  readonly connections: number;
  readonly bcryptCost: number;
  readonly figures: readonly Figure[];
  readonly counts: Record<string, number>;
  readonly goals: readonly Goal[];
  readonly peakRssBytes: { benchServer: number | undefined; secondServer: number | null; runner: number };
  readonly totalSeconds: number;
}

function print(result: Printed, embeddedOnly: boolean): void {
  const out: string[] = [];
  out.push(`Gatehouse bench — ${result.database}`);
  out.push(
    `node ${result.node}, ${result.cpus} CPUs, ${result.secondsPerFigure} s per figure, ${result.connections} connections, bcrypt cost ${result.bcryptCost}`,
  );
  out.push('');
  out.push(
    table([
      ['figure', 'req/s', 'p50 ms', 'p99 ms', 'vs ceiling', 'bad', 'note'],
      ...result.figures.map((f) => [
        f.name,
        f.requestsPerSecond.toFixed(f.requestsPerSecond >= 100 ? 0 : 1),
        ms(f.p50Ms),
        ms(f.p99Ms),
        f.ratioToCeiling === undefined ? '-' : `${(f.ratioToCeiling * 100).toFixed(1)}%`,
        String(f.unexpected),
        f.note ?? '',
      ]),
    ]),
  );
  if (embeddedOnly) {
    out.push('(one process per core not measured: the embedded Postgres serves one process; set DATABASE_URL)');
  }
  const c = result.counts;
  out.push('');
  out.push(
    table([
      ['per page view', 'SQL round trips', 'session rows written'],
      [
        'authenticated GET /',
        (c['sqlRoundTripsPerAuthenticatedView'] ?? 0).toFixed(2),
        `${(c['sessionWritesPerAuthenticatedView'] ?? 0).toFixed(4)} (${c['authenticatedSessionWrites']} in ${c['authenticatedViews']})`,
      ],
      [
        'anonymous GET /login',
        (c['sqlRoundTripsPerAnonymousView'] ?? 0).toFixed(2),
        `${(c['sessionWritesPerAnonymousView'] ?? 0).toFixed(4)} (${c['anonymousSessionWrites']} in ${c['anonymousViews']})`,
      ],
    ]),
  );
  out.push('');
  out.push(
    table([
      ['goal', 'measured', 'met'],
      ...result.goals.map((g) => [g.goal, g.measured, g.met === null ? '-' : g.met ? 'yes' : 'NO']),
    ]),
  );
  out.push('');
  const rss = result.peakRssBytes;
  out.push(
    `peak RSS: bench server (Gatehouse + hello${result.database.startsWith('embedded') ? ' + PGlite' : ''}) ${mib(rss.benchServer)}` +
      (rss.secondServer === null ? '' : `, second Gatehouse process ${mib(rss.secondServer)}`) +
      `, load generator ${mib(rss.runner)}`,
  );
  out.push(`total ${result.totalSeconds.toFixed(0)} s`);
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
