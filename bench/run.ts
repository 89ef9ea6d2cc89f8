/**
 * `npm run bench [-- --quick | --smoke] [--cost N] [--seconds N] [--connections N]`
 *
 *   --quick          2 s per figure instead of 10, 20,000 requests for the heap figure instead of 100,000
 *   --smoke          1 s per figure and 5,000 requests for the heap figure: proves that everything runs (CI)
 *   --cost N         bcrypt work factor (default BCRYPT_COST, else 12)
 *   --seconds N      seconds per figure
 *   --connections N  concurrent connections for the throughput figures (default 10)
 *
 * Starts Gatehouse and a bare Express 5 "hello" app in one child process
 * (bench/server.ts, with --expose-gc) on loopback, drives them with autocannon
 * from this process, and prints every figure side by side with the bare
 * ceiling measured in the same run. Real Postgres when DATABASE_URL is set (a
 * fresh gatehouse_bench_* database on that server, dropped at the end), else
 * an embedded PGlite in a temporary directory; with a real Postgres it also
 * starts `src/server.ts` and `src/cluster.ts` (one process, then one worker
 * per core) and compares them in alternating rounds. The table is also
 * written to bench/results/latest.json.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pg from 'pg';
import { BENCH_SECRET, type ChildReply, type ChildRequest } from './protocol.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const PASSWORD = 'bench: correct horse battery staple 42';

// ---------------------------------------------------------------- options

interface Options {
  /** 'full' (10 s per figure), 'quick' (2 s) or 'smoke' (1 s: does it all run?). */
  readonly mode: 'full' | 'quick' | 'smoke';
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly cost: number;
  readonly connections: number;
  /** Authenticated GET / requests between the two heap readings (the goal names 100,000). */
  readonly memoryRequests: number;
  /** Alternating rounds (one process, then the cluster) for the more-than-one-core figure. */
  readonly rounds: number;
  readonly roundSeconds: number;
}

function parseArgs(argv: readonly string[]): Options {
  const smoke = argv.includes('--smoke');
  const quick = !smoke && argv.includes('--quick');
  const short = quick || smoke;
  const valueOf = (flag: string): number | undefined => {
    const index = argv.indexOf(flag);
    if (index === -1) return undefined;
    const value = Number(argv[index + 1]);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`${flag} needs a positive number`);
    return value;
  };
  const seconds = valueOf('--seconds') ?? (smoke ? 1 : quick ? 2 : 10);
  return {
    mode: smoke ? 'smoke' : quick ? 'quick' : 'full',
    seconds,
    warmupSeconds: smoke ? 0.5 : quick ? 1 : 2,
    cost: valueOf('--cost') ?? Number(process.env['BCRYPT_COST'] ?? 12),
    connections: valueOf('--connections') ?? 10,
    memoryRequests: smoke ? 5_000 : quick ? 20_000 : 100_000,
    rounds: smoke ? 2 : short ? 4 : 6,
    roundSeconds: short ? seconds : 5,
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
    // --expose-gc: the heap figure asks for a full collection before each reading.
    execArgv: ['--expose-gc', '--import', 'tsx'],
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

// ---------------------------------------------------------------- the real entry points (npm start, npm run start:cluster)

interface AppProcess {
  readonly label: string;
  readonly port: number;
  /** Peak RSS of the process and of its cluster workers (Linux /proc), in bytes. */
  peakRss(): number[];
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

/** VmHWM (peak resident set) of a process and of its children, from /proc; empty where there is none. */
function peakRssOf(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  try {
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    return [Number(hwm ?? 0) * 1024, ...children.flatMap((child) => peakRssOf(Number(child)))];
  } catch {
    return [];
  }
}

/**
 * `src/server.ts` or `src/cluster.ts` as an operator runs them (node with tsx, config from the
 * environment only: the working directory is a temporary one, so no stray .env is read), on a
 * free port; resolves once /healthz answers.
 */
async function startApp(script: string, label: string, env: Record<string, string>, cwd: string): Promise<AppProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(ROOT, script)], {
    cwd,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? cwd, ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`${label} (${script}) exited before it answered`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${label} (${script}) did not answer /healthz within 60 s`);
    }
    try {
      const response = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2_000) });
      await response.text();
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    label,
    port,
    peakRss: () => peakRssOf(child.pid),
    async stop() {
      if (exited) return;
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.kill('SIGTERM');
      await exit;
      clearTimeout(killer);
    },
  };
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

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};

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
  // The machine is shared: how busy it was says how far to trust the figures.
  const loadAtStart = loadavg()[0] ?? 0;
  const log = (message: string) => process.stderr.write(`· ${message}\n`);

  const database = await benchDatabase();
  const children: Child[] = [];
  const apps: AppProcess[] = [];
  const cleanup = async () => {
    await Promise.all([...children.map((child) => child.stop()), ...apps.map((app) => app.stop())]);
    await database.drop();
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

  try {
    const env = { ...database.env, BENCH_COST: String(options.cost) };
    log(
      `starting the bench server (${database.real ? 'real Postgres' : 'embedded PGlite'}, bcrypt cost ${options.cost}, ${options.mode} run)`,
    );
    const mainChild = await startChild({ ...env, BENCH_HELLO: '1' });
    children.push(mainChild);
    // The processes for the more-than-one-core figure start before anything is measured, and idle until then:
    // `npm start` (one process) and `npm run start:cluster` (one worker per core), as an operator runs them.
    const workers = availableParallelism();
    let single: AppProcess | undefined;
    let clustered: AppProcess | undefined;
    const realUrl = database.env['BENCH_DATABASE_URL'];
    if (realUrl) {
      const appEnv = {
        NODE_ENV: 'test', // as the bench server: cached views, plain cookies over http
        DATABASE_URL: realUrl,
        DATA_DIR: database.env['BENCH_DATA_DIR'] ?? tmpdir(),
        SESSION_SECRET: BENCH_SECRET,
        BCRYPT_COST: String(options.cost),
        LOG_LEVEL: 'silent',
        HOST: '127.0.0.1',
      };
      const cwd = database.env['BENCH_DATA_DIR'] ?? tmpdir();
      log(`starting src/server.ts and src/cluster.ts (${workers} workers) on the same database`);
      single = await startApp('src/server.ts', 'one process', appEnv, cwd);
      apps.push(single);
      clustered = await startApp(
        'src/cluster.ts',
        `cluster, ${workers} workers`,
        { ...appEnv, WEB_CONCURRENCY: String(workers) },
        cwd,
      );
      apps.push(clustered);
    }
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
    const countedViews = options.mode === 'full' ? 2000 : 300;

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

    // 3b. The heap after many authenticated page views, against the heap after the warm-up (both after a full GC).
    const memoryRequests = options.memoryRequests;
    log(`authenticated GET / × ${memoryRequests.toLocaleString('en')}, heap before and after`);
    const heapBefore = await mainChild.ask({ type: 'heap' }, 'heap');
    const memoryResult = await load({ ...authRun, amount: memoryRequests }).result;
    const heapAfter = await mainChild.ask({ type: 'heap' }, 'heap');
    const heapRatio = heapAfter.heapUsedBytes / heapBefore.heapUsedBytes;
    const memory = {
      requests: memoryResult.requests.total,
      goalRequests: 100_000,
      heapBeforeBytes: heapBefore.heapUsedBytes,
      heapAfterBytes: heapAfter.heapUsedBytes,
      heapRatio,
      withinTwentyPercent: heapRatio <= 1.2,
      rssBeforeBytes: heapBefore.rssBytes,
      rssAfterBytes: heapAfter.rssBytes,
    };
    figures.push(
      figure(`authenticated GET /, ${memoryRequests.toLocaleString('en')} in a row (heap)`, memoryResult, {
        ratioToCeiling: vsCeiling(memoryResult),
        note: `heap ${mib(heapBefore.heapUsedBytes)} → ${mib(heapAfter.heapUsedBytes)} after GC (${heapRatio.toFixed(2)}×)`,
      }),
    );

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

    // 6. More than one core: `npm start` (one process) against `npm run start:cluster` (one worker per core),
    //    both on the same database and session, in alternating rounds (one, cluster, one, cluster, …):
    //    the machine is noisy, so each round's gain is measured side by side and the median reported.
    let cluster:
      | {
          workers: number;
          rounds: { one: number; cluster: number; gain: number }[];
          medianGain: number;
          one: Figure;
          two: Figure;
        }
      | undefined;
    if (single && clustered) {
      log(`authenticated GET /: one process against ${clustered.label}, ${options.rounds} alternating rounds`);
      const runOn = async (app: AppProcess) => {
        const run: Run = { ...authRun, url: `http://127.0.0.1:${app.port}/` };
        await load({ ...run, duration: Math.min(warmupSeconds, 1) }).result;
        return load({ ...run, duration: options.roundSeconds }).result;
      };
      const rounds: { one: number; cluster: number; gain: number }[] = [];
      const oneResults: autocannon.Result[] = [];
      const twoResults: autocannon.Result[] = [];
      for (let round = 0; round < options.rounds; round++) {
        const a = await runOn(single);
        const b = await runOn(clustered);
        oneResults.push(a);
        twoResults.push(b);
        const one = a.requests.total / a.duration;
        const two = b.requests.total / b.duration;
        rounds.push({ one, cluster: two, gain: two / one });
      }
      const medianGain = median(rounds.map((round) => round.gain));
      const merged = (name: string, results: autocannon.Result[], perSecond: number): Figure => ({
        name,
        requestsPerSecond: perSecond,
        p50Ms: median(results.map((result) => result.latency.p50)),
        p99Ms: Math.max(...results.map((result) => result.latency.p99)),
        requests: results.reduce((sum, result) => sum + result.requests.total, 0),
        unexpected: results.reduce((sum, result) => sum + unexpectedOf(result), 0),
        ratioToCeiling: perSecond / ceiling,
      });
      const oneMedian = median(rounds.map((round) => round.one));
      const twoMedian = median(rounds.map((round) => round.cluster));
      cluster = {
        workers,
        rounds,
        medianGain,
        one: merged(`authenticated GET /, npm start (median of ${rounds.length})`, oneResults, oneMedian),
        two: {
          ...merged(
            `authenticated GET /, npm run start:cluster, ${workers} workers (median of ${rounds.length})`,
            twoResults,
            twoMedian,
          ),
          note: `median gain ${medianGain.toFixed(2)}× (rounds: ${rounds.map((round) => round.gain.toFixed(2)).join(', ')})`,
        },
      };
      figures.push(cluster.one, cluster.two);
    }

    // Peak memory, before the servers go away.
    const benchServerRss = (await mainChild.ask({ type: 'counters' }, 'counters')).maxRssBytes;
    const [singleRss] = single?.peakRss() ?? [];
    const [primaryRss, ...workerRss] = clustered?.peakRss() ?? [];
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
        goal: `heap after ${memory.goalRequests.toLocaleString('en')} authenticated requests within 20% of its start`,
        measured:
          `${memory.heapRatio.toFixed(2)}× after ${memory.requests.toLocaleString('en')}` +
          (memory.requests < memory.goalRequests ? ` (${options.mode} run)` : ''),
        met: memory.withinTwentyPercent,
      },
      {
        goal: `more than one core: the cluster serves ≥ 1.05× one process (median of rounds)`,
        measured: cluster
          ? `${cluster.medianGain.toFixed(2)}× with ${cluster.workers} workers`
          : 'not measured (embedded Postgres serves one process)',
        met: cluster ? cluster.medianGain >= 1.05 : null,
      },
    ];

    const result = {
      date: new Date().toISOString(),
      database: database.label,
      node: process.version,
      cpus: workers,
      mode: options.mode,
      quick: options.mode !== 'full',
      secondsPerFigure: seconds,
      connections,
      bcryptCost: options.cost,
      figures,
      counts,
      statements,
      goals,
      memory,
      cluster: cluster ? { workers: cluster.workers, rounds: cluster.rounds, medianGain: cluster.medianGain } : null,
      peakRssBytes: {
        benchServer: benchServerRss,
        oneProcess: singleRss ?? null,
        clusterPrimary: primaryRss ?? null,
        clusterWorkers: workerRss,
        runner: runnerRss,
      },
      loadAverage: { start: loadAtStart, end: loadavg()[0] ?? 0 },
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
  readonly mode: string;
  readonly memory: { readonly requests: number; readonly goalRequests: number };
  readonly peakRssBytes: {
    benchServer: number;
    oneProcess: number | null;
    clusterPrimary: number | null;
    clusterWorkers: number[];
    runner: number;
  };
  readonly loadAverage: { start: number; end: number };
  readonly totalSeconds: number;
}

function print(result: Printed, embeddedOnly: boolean): void {
  const out: string[] = [];
  out.push(`Gatehouse bench — ${result.database}`);
  out.push(
    `${result.mode} run: node ${result.node}, ${result.cpus} CPUs, ${result.secondsPerFigure} s per figure, ${result.connections} connections, bcrypt cost ${result.bcryptCost}`,
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
      (rss.oneProcess === null ? '' : `, npm start ${mib(rss.oneProcess)}`) +
      (rss.clusterPrimary === null
        ? ''
        : `, cluster primary ${mib(rss.clusterPrimary)} + workers ${rss.clusterWorkers.map(mib).join(' + ')}`) +
      `, load generator ${mib(rss.runner)}`,
  );
  if (result.memory.requests < result.memory.goalRequests) {
    out.push(
      `(${result.mode} run: the heap figure is over ${result.memory.requests.toLocaleString('en')} requests; the goal names ${result.memory.goalRequests.toLocaleString('en')}, as a full run does)`,
    );
  }
  out.push(
    `total ${result.totalSeconds.toFixed(0)} s; 1-minute load average ${result.loadAverage.start.toFixed(1)} at the start, ${result.loadAverage.end.toFixed(1)} at the end (${result.cpus} CPUs: above that, other work shared the machine)`,
  );
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
