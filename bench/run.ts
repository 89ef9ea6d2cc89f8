/**
 * `npm run bench [-- --quick | --smoke] [--cost N] [--seconds N] [--connections N] [--keep-logs]`
 *
 *   --quick          2 s per figure instead of 10, 20,000 requests for the heap figure instead of 100,000
 *   --smoke          1 s per figure and 5,000 requests for the heap figure: proves that everything runs (CI);
 *                    it fails only if something crashes, never on a goal
 *   --cost N         bcrypt work factor (default BCRYPT_COST, else 12; production insists on 10 or more)
 *   --seconds N      seconds per figure
 *   --connections N  concurrent connections for the throughput figures (default 10)
 *   --keep-logs      keep the temporary directory with the servers' logs
 *
 * Bench as deployed: Gatehouse is the compiled process `npm start` runs (package.json's "start"
 * script, spawned as written: its node flags, dist/server.js; dist/ is built first when stale),
 * in production mode (NODE_ENV=production, TRUST_PROXY=1, PUBLIC_URL https://accounts.example.test,
 * logs at info to a file) behind a pretend TLS proxy: every request carries X-Forwarded-Proto:
 * https, so its __Host- cookies (Secure) work. Beside it, in processes of their own on loopback:
 * the bare Express 5 "hello" ceiling (bench/hello.mjs, the same node flags), the two page
 * references (bench/references.mjs, the same node flags: a plain page, Gatehouse's login.njk with
 * fixed data through its own nunjucks environment, and a one-query page, one SELECT by primary key
 * on the deployed database then dashboard.njk; the goals for anonymous GET /login and
 * authenticated GET / are ratios to these, measured in alternating slices), and an instrumented
 * copy of the same compiled app (bench/instrumented-copy.ts) for what only an instrumented process
 * can tell: its SQL round trips per page view, and its heap after a forced GC. autocannon drives
 * them all from this process. With a real Postgres (DATABASE_URL) the cluster (`npm run
 * start:cluster`) is compared with `npm start` in alternating rounds; without, each process uses
 * its own embedded PGlite and there is no cluster figure. Results also go to bench/results/latest.json.
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import type autocannon from 'autocannon';
import {
  type BenchDatabases,
  type SessionTally,
  benchDatabases,
  installSessionCounter,
  removeSessionCounter,
  sessionTally,
  tallyDelta,
} from './database.js';
import {
  BROWSER_HEADERS,
  FORM_HEADERS,
  deployedEnv,
  type Result,
  type Run,
  formOn,
  load,
  logInOnce,
  loginBody,
  mean,
  median,
  perSecond,
  percentile,
  signUp,
} from './http.js';
import {
  type Memory,
  type Server,
  ROOT,
  nodeScript,
  startCopy,
  startHello,
  startReferences,
  startServer,
} from './processes.js';
import type { Counters } from './protocol.js';
import { type CountFigure, type LoadFigure, countTable, loadTable, mib, percent } from './report.js';

const HERE = path.join(ROOT, 'bench');

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
  /** Page views counted, one by one, in the instrumented copy. */
  readonly countedViews: number;
  /** Slices of each page figure, alternating with as many of the hello ceiling. */
  readonly slices: number;
  /** Alternating rounds (one process, then the cluster) for the more-than-one-core figure. */
  readonly rounds: number;
  readonly roundSeconds: number;
  readonly keepLogs: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  const smoke = argv.includes('--smoke');
  const quick = !smoke && argv.includes('--quick');
  const valueOf = (flag: string): number | undefined => {
    const index = argv.indexOf(flag);
    if (index === -1) return undefined;
    const value = Number(argv[index + 1]);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`${flag} needs a positive number`);
    return value;
  };
  const seconds = valueOf('--seconds') ?? (smoke ? 1 : quick ? 2 : 10);
  const cost = valueOf('--cost') ?? Number(process.env['BCRYPT_COST'] ?? 12);
  if (!Number.isInteger(cost) || cost < 10 || cost > 31) {
    throw new Error(`--cost must be a whole number from 10 (production's minimum) to 31, not ${cost}`);
  }
  return {
    mode: smoke ? 'smoke' : quick ? 'quick' : 'full',
    seconds,
    warmupSeconds: smoke ? 0.5 : quick ? 1 : 2,
    cost,
    connections: valueOf('--connections') ?? 10,
    memoryRequests: smoke ? 5_000 : quick ? 20_000 : 100_000,
    countedViews: smoke || quick ? 300 : 2000,
    slices: smoke ? 1 : quick ? 2 : 4,
    rounds: smoke ? 2 : quick ? 4 : 6,
    roundSeconds: smoke || quick ? seconds : 5,
    keepLogs: argv.includes('--keep-logs'),
  };
}

// ---------------------------------------------------------------- logs

interface LogStats {
  readonly file: string;
  readonly bytes: number;
  readonly lines: number;
  /** Lines at warn (40) or above: something the bench should not have caused. */
  readonly warnings: number;
  readonly errors: number;
}

async function logStats(file: string): Promise<LogStats> {
  let lines = 0;
  let warnings = 0;
  let errors = 0;
  let partial = '';
  for await (const chunk of createReadStream(file, { encoding: 'utf8' })) {
    const text = partial + (chunk as string);
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines += 1;
      const level = Number(/"level":(\d+)/.exec(line)?.[1] ?? 0);
      if (level >= 50) errors += 1;
      else if (level >= 40) warnings += 1;
    }
  }
  if (partial !== '') lines += 1;
  return { file, bytes: statSync(file).size, lines, warnings, errors };
}

// ---------------------------------------------------------------- the run

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const { seconds, warmupSeconds, connections } = options;
  const started = Date.now();
  // The machine is shared: how busy it was says how far to trust the figures.
  const loadAtStart = loadavg()[0] ?? 0;
  const log = (message: string) => process.stderr.write(`· ${message}\n`);

  // What `npm start` runs first (its prestart script): dist/ built from src/ when stale.
  try {
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs'), '--if-stale'], {
      cwd: ROOT,
      stdio: 'inherit',
    });
  } catch {
    throw new Error('dist/ could not be built from src/ (node scripts/build.mjs --if-stale: see above)');
  }
  const start = nodeScript('start');
  const startCluster = nodeScript('start:cluster');

  const workDir = mkdtempSync(path.join(tmpdir(), 'gh-bench-'));
  let databases: BenchDatabases | undefined;
  const running: { stop(): Promise<void> }[] = [];
  let cleanedUp = false;
  const cleanup = async () => {
    if (cleanedUp) return;
    cleanedUp = true;
    await Promise.all(running.map((process) => process.stop()));
    await databases?.drop();
    if (!options.keepLogs) rmSync(workDir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

  try {
    databases = await benchDatabases(workDir, process.env['DATABASE_URL']);
    const connect = databases.connect;
    const appEnv = deployedEnv(options.cost);
    const deployedLog = path.join(workDir, 'gatehouse.log');
    log(
      `starting Gatehouse as deployed: ${start.text} (${databases.real ? 'real Postgres' : 'embedded PGlite'}, production mode, bcrypt cost ${options.cost}, ${options.mode} run)`,
    );
    const deployed = await startServer(
      'Gatehouse (npm start)',
      start,
      { ...appEnv, ...databases.deployedEnv },
      workDir,
      deployedLog,
    );
    running.push(deployed);
    log('starting the bare Express 5 hello app, the page references and the instrumented copy');
    const hello = await startHello(start.flags, workDir);
    running.push(hello);
    const references = await startReferences(start.flags, databases.referencesEnv, workDir);
    running.push(references);
    const copy = await startCopy(
      start.flags,
      { ...appEnv, ...databases.copyEnv },
      workDir,
      path.join(workDir, 'copy.log'),
    );
    running.push(copy);

    const base = `http://127.0.0.1:${deployed.port}`;
    const copyBase = `http://127.0.0.1:${copy.port}`;
    const helloUrl = `http://127.0.0.1:${hello.port}/`;

    // Two users on the deployed process: one whose session views the dashboard, one who logs in over
    // and over (each login opens a session, and a user's oldest sessions end beyond SESSIONS_PER_USER:
    // the viewer's must not be one of them). One login form: the anonymous token is a signed cookie
    // with its field, good for any number of logins.
    const viewer = await signUp(base, 'Bench viewer');
    const loginUser = await signUp(base, 'Bench login');
    const loginForm = await formOn(base, '/login');
    const copyViewer = await signUp(copyBase, 'Bench viewer');
    // The one-query page reads the viewer's own row.
    const viewerId = await (async () => {
      const client = await connect();
      try {
        const { rows } = await client.query<{ id: number }>('SELECT id FROM users WHERE email = $1', [viewer.email]);
        if (rows[0] === undefined) throw new Error('the bench viewer is not in the users table');
        return Number(rows[0].id);
      } finally {
        await client.end();
      }
    })();

    // The database counts the deployed process's session writes (a trigger, for the page views only);
    // one login, which writes its session, proves that it counts.
    await installSessionCounter(connect);
    const beforeLogin = await sessionTally(connect);
    await logInOnce(base, loginForm, loginUser.email);
    const triggerCounts = tallyDelta(beforeLogin, await sessionTally(connect)).inserts >= 1;
    if (!triggerCounts) log('warning: the trigger on sessions did not count the session a login wrote');

    let deployedRequests = 0;
    const onDeployed = (result: Result) => {
      deployedRequests += result.requests.total;
      return result;
    };
    const warm = (run: Run) => load({ ...run, duration: warmupSeconds }).result;
    const deployedRss = () => deployed.memory().self?.rssBytes ?? null;
    const stat = (result: autocannon.Result) => ({
      requestsPerSecond: perSecond(result),
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      requests: result.requests.total,
    });

    const loads: LoadFigure[] = [];
    const counts: CountFigure[] = [];

    // ------------------------------------------------ 1. page views, as deployed, against the ceiling
    const authRun: Run = {
      url: `${base}/`,
      connections,
      headers: { ...BROWSER_HEADERS, cookie: viewer.cookie },
      expect: 200,
    };
    const anonRun = (page: string): Run => ({
      url: `${base}${page}`,
      connections,
      headers: BROWSER_HEADERS,
      expect: 200,
    });
    const helloRun: Run = { url: helloUrl, connections, headers: BROWSER_HEADERS, expect: 200 };
    const plainRun: Run = {
      url: `http://127.0.0.1:${references.plainPort}/`,
      connections,
      headers: BROWSER_HEADERS,
      expect: 200,
    };
    const oneQueryRun: Run = {
      url: `http://127.0.0.1:${references.oneQueryPort}/${viewerId}`,
      connections,
      headers: BROWSER_HEADERS,
      expect: 200,
    };

    // Every process is new: each page is served for a while before anything is measured, so that the
    // first figure does not pay for the JIT and the heap's first growth alone.
    log('warming up: hello and the references, then anonymous GET /login and /signup and authenticated GET /');
    for (const run of [helloRun, plainRun, oneQueryRun]) await warm(run);
    for (const run of [anonRun('/login'), anonRun('/signup'), authRun]) onDeployed(await warm(run));

    /**
     * A page against the ceiling and its reference on a shared machine: `seconds` of each, in slices
     * that alternate hello, the reference and the page (hello, reference, page, page, reference,
     * hello, …), so that whatever else the machine does weighs on all alike; each ratio is the
     * page's rate over the other's in the same slices. The sessions table is tallied around the
     * page's slices (hello and the plain page touch no database; the one-query page only reads).
     */
    const alternating = async (run: Run, referenceRun: Run | null) => {
      const sliceSeconds = seconds / options.slices;
      const page = { results: [] as Result[], times: [] as number[] };
      const ceiling = { results: [] as Result[], times: [] as number[] };
      const reference = { results: [] as Result[], times: [] as number[] };
      const before = await sessionTally(connect);
      if (referenceRun) await warm(referenceRun);
      const warmup = onDeployed(await warm(run));
      const slice = async (which: typeof page, slicedRun: Run) =>
        which.results.push(await load({ ...slicedRun, duration: sliceSeconds }, which.times).result);
      for (let index = 0; index < options.slices; index++) {
        const order: [typeof page, Run][] = [[ceiling, helloRun]];
        if (referenceRun) order.push([reference, referenceRun]);
        order.push([page, run]);
        if (index % 2 === 1) order.reverse();
        for (const [which, slicedRun] of order) await slice(which, slicedRun);
      }
      const after = await sessionTally(connect);
      page.results.forEach(onDeployed);
      const pooled = ({ results, times }: typeof page) => {
        const requests = results.reduce((sum, result) => sum + result.requests.total, 0);
        const duration = results.reduce((sum, result) => sum + result.duration, 0);
        return {
          requestsPerSecond: requests / Math.max(duration, 0.001),
          p50Ms: percentile(times, 50),
          p99Ms: percentile(times, 99),
          requests,
          duration,
          unexpected: results.reduce((sum, result) => sum + result.unexpected, 0),
        };
      };
      const timed = pooled(page);
      const hello = pooled(ceiling);
      const referenced = referenceRun ? pooled(reference) : null;
      return {
        timed,
        hello,
        reference: referenced,
        ratio: timed.requestsPerSecond / hello.requestsPerSecond,
        referenceRatio: referenced ? timed.requestsPerSecond / referenced.requestsPerSecond : null,
        views: warmup.requests.total + timed.requests,
        seconds: warmup.duration + timed.duration,
        tally: tallyDelta(before, after),
        rssAfterBytes: deployedRss(),
      };
    };
    log(`anonymous GET /login (each request a new visitor: no cookies), alternating with hello and the plain page`);
    const anonLogin = await alternating(anonRun('/login'), plainRun);
    log(`anonymous GET /signup (each request a new visitor: no cookies), alternating with hello`);
    const anonSignup = await alternating(anonRun('/signup'), null);
    log(`authenticated GET /, alternating with hello and the one-query page`);
    const auth = await alternating(authRun, oneQueryRun);
    await removeSessionCounter(connect);
    const helloMemory = hello.memory();
    const referencesMemory = references.memory();

    // The ceiling over all its slices, for the figures that were not measured against it side by side.
    const hellos = [anonLogin.hello, anonSignup.hello, auth.hello];
    const ceilingRequests = hellos.reduce((sum, figure) => sum + figure.requests, 0);
    const ceiling = ceilingRequests / hellos.reduce((sum, figure) => sum + figure.duration, 0);
    const vsCeiling = (result: autocannon.Result) => perSecond(result) / ceiling;
    const rounded = (value: number) => Math.round(value).toLocaleString('en');

    loads.push({
      name: `bare Express 5 "hello" (ceiling, ${hellos.length * options.slices} slices)`,
      served: 'hello',
      requestsPerSecond: ceiling,
      p50Ms: median(hellos.map((figure) => figure.p50Ms)),
      p99Ms: Math.max(...hellos.map((figure) => figure.p99Ms)),
      requests: ceilingRequests,
      unexpected: hellos.reduce((sum, figure) => sum + figure.unexpected, 0),
      ratioToCeiling: 1,
      goal: `beside each page: ${hellos.map((figure) => rounded(figure.requestsPerSecond)).join(', ')} req/s`,
      met: null,
    });
    // The references, each over the slices it was measured in beside its page.
    const referenceFigures = [
      { name: 'plain page: login.njk with fixed data, bare Express 5 (reference)', figure: anonLogin.reference },
      { name: 'one-query page: SELECT by id + dashboard.njk, bare Express 5 (reference)', figure: auth.reference },
    ];
    for (const { name, figure } of referenceFigures) {
      if (figure === null) continue;
      const { duration: _duration, ...timed } = figure;
      loads.push({
        name,
        served: 'reference',
        ...timed,
        ratioToCeiling: figure.requestsPerSecond / ceiling,
        goal: null,
        met: null,
      });
    }
    // Each page against the reference beside it: its goal as a least ratio to it (none for /signup).
    const pages = [
      { name: 'authenticated GET /', figure: auth, reference: 'one-query page', least: 0.75 },
      { name: 'anonymous GET /login (new visitor)', figure: anonLogin, reference: 'plain page', least: 0.6 },
      { name: 'anonymous GET /signup (new visitor)', figure: anonSignup, reference: null, least: null },
    ];
    for (const { name, figure, reference, least } of pages) {
      const { duration: _duration, ...timed } = figure.timed;
      const ratio = figure.referenceRatio;
      loads.push({
        name,
        served: 'deployed',
        ...timed,
        ratioToCeiling: figure.ratio,
        goal:
          least === null || ratio === null
            ? null
            : `≥ ${percent(least)} of the ${reference}: ${percent(ratio)} (${rounded(figure.timed.requestsPerSecond)} / ${rounded(figure.reference?.requestsPerSecond ?? 0)} req/s)`,
        met: least === null || ratio === null ? null : ratio >= least,
        rssAfterBytes: figure.rssAfterBytes,
      });
    }

    const tallyText = (tally: SessionTally, views: number) =>
      `${((tally.inserts + tally.updates) / Math.max(views, 1)).toFixed(4)} (${tally.rows} rows added, ${tally.inserts} inserts, ${tally.updates} updates in ${views.toLocaleString('en')} views)`;
    for (const [page, figure] of [
      ['/login', anonLogin],
      ['/signup', anonSignup],
    ] as const) {
      const written = Math.max(figure.tally.rows, 0) + figure.tally.inserts + figure.tally.updates;
      counts.push({
        name: `rows written to sessions per anonymous GET ${page} (as deployed)`,
        measured: tallyText(figure.tally, figure.views),
        value: written / Math.max(figure.views, 1),
        goal: '0',
        met: written === 0,
      });
    }
    // One session viewed for a few seconds: its expiry moves at most once a minute, so at most that often a write.
    const touchesAllowed = Math.ceil(auth.seconds / 60);
    const authWrites = auth.tally.inserts + auth.tally.updates;
    counts.push({
      name: 'session writes per authenticated GET / (as deployed)',
      measured: tallyText(auth.tally, auth.views),
      value: authWrites / Math.max(auth.views, 1),
      goal: `0 (≤ ${touchesAllowed} expiry touch, once a minute)`,
      met: authWrites <= touchesAllowed && auth.tally.rows === 0,
    });

    // ------------------------------------------------ 2. round trips, in the instrumented copy
    const counted = async (run: Run, views: number) => {
      // Requests a timed run left in flight finish first: wait until the counters stand still.
      let before = await copy.ask({ type: 'counters' }, 'counters');
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        const now = await copy.ask({ type: 'counters' }, 'counters');
        if (now.queries === before.queries) break;
        before = now;
      }
      const began = Date.now();
      // An exact number of requests, so that none is left in flight when the counters are read.
      const result = await load({ ...run, amount: views }).result;
      const after: Counters = await copy.ask({ type: 'counters' }, 'counters');
      return {
        views: result.requests.total - result.unexpected,
        unexpected: result.unexpected,
        seconds: (Date.now() - began) / 1000,
        queries: after.queries - before.queries,
        sessionWrites: after.sessionWrites - before.sessionWrites,
        statements: Object.fromEntries(
          Object.entries(after.byStatement)
            .map(([text, count]) => [text, count - (before.byStatement[text] ?? 0)] as const)
            .filter(([, count]) => count > 0),
        ),
      };
    };
    const copyAuthRun: Run = {
      ...authRun,
      url: `${copyBase}/`,
      headers: { ...BROWSER_HEADERS, cookie: copyViewer.cookie },
    };
    log(`instrumented copy: SQL round trips over ${options.countedViews.toLocaleString('en')} views of each page`);
    await warm(copyAuthRun);
    const copyAuth = await counted(copyAuthRun, options.countedViews);
    const copyLogin = await counted({ ...anonRun('/login'), url: `${copyBase}/login` }, options.countedViews);
    const copySignup = await counted({ ...anonRun('/signup'), url: `${copyBase}/signup` }, options.countedViews);
    const copyTouches = Math.ceil(copyAuth.seconds / 60);
    const tripsPerView = copyAuth.queries / Math.max(copyAuth.views, 1);
    counts.push({
      name: 'SQL round trips per authenticated GET / (instrumented copy)',
      measured: `${tripsPerView.toFixed(2)} (${copyAuth.queries.toLocaleString('en')} in ${copyAuth.views.toLocaleString('en')} views)`,
      value: tripsPerView,
      goal: '1',
      met: copyAuth.views > 0 && copyAuth.queries <= copyAuth.views + copyTouches,
    });
    counts.push({
      name: 'session writes per authenticated GET / (instrumented copy)',
      measured: `${(copyAuth.sessionWrites / Math.max(copyAuth.views, 1)).toFixed(4)} (${copyAuth.sessionWrites} in ${copyAuth.views.toLocaleString('en')} views)`,
      value: copyAuth.sessionWrites / Math.max(copyAuth.views, 1),
      goal: `0 (≤ ${copyTouches} expiry touch, once a minute)`,
      met: copyAuth.sessionWrites <= copyTouches,
    });
    for (const [page, figure] of [
      ['/login', copyLogin],
      ['/signup', copySignup],
    ] as const) {
      counts.push({
        name: `SQL round trips per anonymous GET ${page} (instrumented copy)`,
        measured: `${(figure.queries / Math.max(figure.views, 1)).toFixed(2)} (${figure.queries} in ${figure.views.toLocaleString('en')} views; ${figure.sessionWrites} session writes)`,
        value: figure.queries / Math.max(figure.views, 1),
        goal: null,
        met: null,
      });
    }

    // ------------------------------------------------ 3. the heap after many page views, in the copy
    log(
      `instrumented copy: authenticated GET / × ${options.memoryRequests.toLocaleString('en')}, heap before and after`,
    );
    const heapBefore = await copy.ask({ type: 'heap' }, 'heap');
    const memoryResult = await load({ ...copyAuthRun, amount: options.memoryRequests }).result;
    const heapAfter = await copy.ask({ type: 'heap' }, 'heap');
    const heapRatio = heapAfter.heapUsedBytes / heapBefore.heapUsedBytes;
    loads.push({
      name: `authenticated GET / × ${options.memoryRequests.toLocaleString('en')} (instrumented copy)`,
      served: 'copy',
      ...stat(memoryResult),
      unexpected: memoryResult.unexpected,
      ratioToCeiling: vsCeiling(memoryResult),
      goal: null,
      met: null,
    });

    // ------------------------------------------------ 4. POST /login against one bare bcrypt.compare
    // Interleaved (bcrypt, logins, bcrypt, logins) so that a noisy neighbour weighs on both alike; the
    // bcrypt calls in the copy (the same bcrypt module and cost), the logins on the deployed process.
    const loginRun = (extra: Partial<Run>): Run => ({
      url: `${base}/login`,
      method: 'POST',
      headers: { ...FORM_HEADERS, cookie: loginForm.cookie },
      body: loginBody(loginForm, loginUser.email),
      expect: 303,
      ...extra,
    });
    log(`POST /login one at a time, interleaved with bare bcrypt.compare at cost ${options.cost}`);
    onDeployed(await load(loginRun({ connections: 1, amount: 2 })).result);
    const bcryptTimes: number[] = [];
    const loginTimes: number[] = [];
    let loginBad = 0;
    const halfMs = (seconds * 1000) / 2;
    for (let round = 0; round < 2; round++) {
      bcryptTimes.push(...(await copy.ask({ type: 'bcrypt', min: 3, ms: halfMs }, 'bcrypt')).times);
      const count = Math.max(3, Math.round(halfMs / mean(bcryptTimes)));
      loginBad += onDeployed(await load(loginRun({ connections: 1, amount: count }), loginTimes).result).unexpected;
    }
    const bcryptP50 = percentile(bcryptTimes, 50);
    const loginP50 = percentile(loginTimes, 50);
    const loginP50Ratio = loginP50 / bcryptP50;
    loads.push({
      name: `bare bcrypt.compare, cost ${options.cost}, one at a time`,
      served: 'bcrypt',
      requestsPerSecond: 1000 / mean(bcryptTimes),
      p50Ms: bcryptP50,
      p99Ms: percentile(bcryptTimes, 99),
      requests: bcryptTimes.length,
      unexpected: 0,
      ratioToCeiling: null,
      goal: null,
      met: null,
    });
    loads.push({
      name: 'POST /login, right password, one at a time',
      served: 'deployed',
      requestsPerSecond: 1000 / mean(loginTimes),
      p50Ms: loginP50,
      p99Ms: percentile(loginTimes, 99),
      requests: loginTimes.length,
      unexpected: loginBad,
      ratioToCeiling: null,
      goal: `p50 ≤ 1.2× bare bcrypt: ${loginP50Ratio.toFixed(2)}×`,
      met: loginP50Ratio <= 1.2,
      rssAfterBytes: deployedRss(),
    });

    // ------------------------------------------------ 5. authenticated GET / p99, alone and with 4 logins at once
    const steadyRate = Math.max(50, Math.round(auth.timed.requestsPerSecond * 0.25));
    const steadyRun: Run = { ...authRun, connections: 4, overallRate: steadyRate, duration: seconds };
    log(`authenticated GET / at a steady ${steadyRate} req/s, alone`);
    const alone = onDeployed(await load(steadyRun).result);
    loads.push({
      name: `authenticated GET /, steady ${steadyRate} req/s`,
      served: 'deployed',
      ...stat(alone),
      unexpected: alone.unexpected,
      ratioToCeiling: null,
      goal: null,
      met: null,
      rssAfterBytes: deployedRss(),
    });
    log(`authenticated GET / at a steady ${steadyRate} req/s, with 4 logins at once`);
    const logins = load(loginRun({ connections: 4, duration: seconds + 5 }));
    await new Promise((resolve) => setTimeout(resolve, Math.min(1000, mean(bcryptTimes) * 2)));
    const withLogins = onDeployed(await load(steadyRun).result);
    logins.stop();
    const loginsDuring = onDeployed(await logins.result);
    const p99Ratio = withLogins.latency.p99 / Math.max(alone.latency.p99, 0.001);
    // autocannon sends at the steady rate only while a connection is free: page views that slow down
    // are sent less often, and their p99 then understates the wait. So the rate must hold as well.
    const rateKept = perSecond(withLogins) / Math.max(perSecond(alone), 0.001);
    const rssAfterLoad = deployed.memory().self;
    loads.push({
      name: `authenticated GET /, steady ${steadyRate} req/s, ${loginsDuring.requests.total} login${loginsDuring.requests.total === 1 ? '' : 's'} meanwhile (4 at once)`,
      served: 'deployed',
      ...stat(withLogins),
      unexpected: withLogins.unexpected + loginsDuring.unexpected,
      ratioToCeiling: null,
      goal: `p99 ≤ 3× alone: ${p99Ratio.toFixed(2)}×, at ${percent(rateKept)} of its rate (≥ 90%)`,
      met: p99Ratio <= 3 && rateKept >= 0.9,
      rssAfterBytes: rssAfterLoad?.rssBytes ?? null,
    });

    // ------------------------------------------------ 6. more than one core: npm start against npm run start:cluster
    const workers = availableParallelism();
    let cluster:
      { workers: number; rounds: { one: number; cluster: number; gain: number }[]; medianGain: number } | undefined;
    let clusterMemory: { self: Memory | null; workers: Memory[] } | undefined;
    if (databases.real) {
      log(`starting the cluster: ${startCluster.text} (${workers} workers) on the same database`);
      const clustered: Server = await startServer(
        'Gatehouse (npm run start:cluster)',
        startCluster,
        { ...appEnv, ...databases.deployedEnv, WEB_CONCURRENCY: String(workers) },
        workDir,
        path.join(workDir, 'cluster.log'),
      );
      running.push(clustered);
      log(`authenticated GET /: npm start against the cluster, ${options.rounds} alternating rounds`);
      const runOn = async (server: Server) => {
        const run: Run = { ...authRun, url: `http://127.0.0.1:${server.port}/` };
        const warmup = await load({ ...run, duration: Math.min(warmupSeconds, 1) }).result;
        if (server === deployed) onDeployed(warmup);
        return load({ ...run, duration: options.roundSeconds }).result;
      };
      const rounds: { one: number; cluster: number; gain: number }[] = [];
      const oneResults: Result[] = [];
      const twoResults: Result[] = [];
      for (let round = 0; round < options.rounds; round++) {
        const a = onDeployed(await runOn(deployed));
        const b = await runOn(clustered);
        oneResults.push(a);
        twoResults.push(b);
        rounds.push({ one: perSecond(a), cluster: perSecond(b), gain: perSecond(b) / perSecond(a) });
      }
      clusterMemory = clustered.memory();
      if (!clustered.alive()) throw new Error('the cluster exited during the bench');
      await clustered.stop();
      const medianGain = median(rounds.map((round) => round.gain));
      cluster = { workers, rounds, medianGain };
      const merged = (results: Result[], requestsPerSecond: number) => ({
        requestsPerSecond,
        p50Ms: median(results.map((result) => result.latency.p50)),
        p99Ms: Math.max(...results.map((result) => result.latency.p99)),
        requests: results.reduce((sum, result) => sum + result.requests.total, 0),
        unexpected: results.reduce((sum, result) => sum + result.unexpected, 0),
        ratioToCeiling: requestsPerSecond / ceiling,
      });
      loads.push({
        name: `authenticated GET /, npm start (median of ${rounds.length} rounds)`,
        served: 'deployed',
        ...merged(oneResults, median(rounds.map((round) => round.one))),
        goal: null,
        met: null,
      });
      loads.push({
        name: `authenticated GET /, npm run start:cluster, ${workers} workers (median of ${rounds.length})`,
        served: 'cluster',
        ...merged(twoResults, median(rounds.map((round) => round.cluster))),
        goal: `median ≥ 1.05× npm start: ${medianGain.toFixed(2)}× (${rounds.map((round) => round.gain.toFixed(2)).join(', ')})`,
        met: medianGain >= 1.05,
      });
    }

    // ------------------------------------------------ 7. memory
    const finalMemory = deployed.memory().self;
    const copyMemory = copy.memory();
    if (!deployed.alive()) throw new Error('Gatehouse (npm start) exited during the bench');
    const embeddedNote = databases.real ? '' : ' (holds the embedded PGlite)';
    counts.push({
      name: `RSS of Gatehouse (npm start) after the load${embeddedNote}`,
      measured: mib(rssAfterLoad?.rssBytes),
      value: rssAfterLoad?.rssBytes ?? null,
      goal: '≤ 120 MiB',
      met: rssAfterLoad ? rssAfterLoad.rssBytes <= 120 * 1024 * 1024 : null,
    });
    counts.push({
      name: `peak RSS (VmHWM) of Gatehouse (npm start) over the whole run${embeddedNote}`,
      measured: mib(finalMemory?.peakBytes),
      value: finalMemory?.peakBytes ?? null,
      goal: null,
      met: null,
    });
    counts.push({
      name: 'RSS of the page references after their load (peak)',
      measured: `${mib(referencesMemory?.rssBytes)} (${mib(referencesMemory?.peakBytes)})`,
      value: referencesMemory?.rssBytes ?? null,
      goal: null,
      met: null,
    });
    counts.push({
      name: 'RSS of the hello app after its load (peak)',
      measured: `${mib(helloMemory?.rssBytes)} (${mib(helloMemory?.peakBytes)})`,
      value: helloMemory?.rssBytes ?? null,
      goal: null,
      met: null,
    });
    if (clusterMemory) {
      counts.push({
        name: 'peak RSS of the cluster: primary + workers',
        measured: `${mib(clusterMemory.self?.peakBytes)} + ${clusterMemory.workers.map((worker) => mib(worker.peakBytes)).join(' + ')}`,
        value: null,
        goal: null,
        met: null,
      });
    }
    counts.push({
      name: `heap after ${options.memoryRequests.toLocaleString('en')} authenticated GET / (instrumented copy, after GC)`,
      measured:
        `${mib(heapBefore.heapUsedBytes)} → ${mib(heapAfter.heapUsedBytes)} (${heapRatio.toFixed(2)}×)` +
        (options.memoryRequests < 100_000 ? `; the goal names 100,000 (a full run)` : ''),
      value: heapRatio,
      goal: 'within 20%',
      met: heapRatio <= 1.2,
    });

    // ------------------------------------------------ the end: stop everything, then read the logs
    await Promise.all(running.splice(0).map((process) => process.stop()));
    const logs = {
      deployed: await logStats(deployedLog),
      copy: await logStats(path.join(workDir, 'copy.log')),
      cluster: databases.real ? await logStats(path.join(workDir, 'cluster.log')) : null,
    };
    const loadAtEnd = loadavg()[0] ?? 0;
    const goals = [...loads, ...counts]
      .filter((figure) => figure.met !== null)
      .map((figure) => ({ figure: figure.name, goal: figure.goal, met: figure.met }));

    const result = {
      date: new Date().toISOString(),
      mode: options.mode,
      node: process.version,
      cpus: workers,
      database: databases.label,
      deployed: {
        command: start.text,
        clusterCommand: startCluster.text,
        nodeFlags: start.flags,
        environment: {
          ...Object.fromEntries(Object.entries(appEnv).filter(([key]) => key !== 'SESSION_SECRET')),
          SESSION_SECRET: `(${appEnv['SESSION_SECRET']?.length ?? 0} random characters)`,
        },
        proxyHeaders: BROWSER_HEADERS,
      },
      secondsPerFigure: seconds,
      connections,
      bcryptCost: options.cost,
      references: {
        plainPage: { ...anonLogin.reference, loginRatio: anonLogin.referenceRatio },
        oneQueryPage: { ...auth.reference, dashboardRatio: auth.referenceRatio },
      },
      ceiling: {
        requestsPerSecond: ceiling,
        besideEachPage: {
          anonymousLogin: anonLogin.hello,
          anonymousSignup: anonSignup.hello,
          authenticated: auth.hello,
        },
      },
      loads,
      counts,
      goals,
      sessions: {
        anonymousLogin: { views: anonLogin.views, ...anonLogin.tally },
        anonymousSignup: { views: anonSignup.views, ...anonSignup.tally },
        authenticated: { views: auth.views, ...auth.tally },
      },
      instrumentedCopy: {
        authenticated: copyAuth,
        anonymousLogin: copyLogin,
        anonymousSignup: copySignup,
        heap: {
          requests: memoryResult.requests.total,
          goalRequests: 100_000,
          beforeBytes: heapBefore.heapUsedBytes,
          afterBytes: heapAfter.heapUsedBytes,
          ratio: heapRatio,
          rssBeforeBytes: heapBefore.rssBytes,
          rssAfterBytes: heapAfter.rssBytes,
        },
        memory: copyMemory,
      },
      cluster: cluster ?? null,
      memoryBytes: {
        deployedAfterLoad: rssAfterLoad,
        deployedAtEnd: finalMemory,
        hello: helloMemory,
        references: referencesMemory,
        cluster: clusterMemory ?? null,
        runner: process.resourceUsage().maxRSS * 1024,
      },
      logs: { ...logs, kept: options.keepLogs, requestsToDeployed: deployedRequests },
      loadAverage: { start: loadAtStart, end: loadAtEnd },
      totalSeconds: (Date.now() - started) / 1000,
    };

    // ------------------------------------------------ the tables
    const out: string[] = [];
    const deployedLogs = logs.deployed;
    out.push(
      `Gatehouse bench, ${options.mode} run (${seconds} s per figure, ${connections} connections, bcrypt cost ${options.cost}), node ${process.version}, ${workers} CPUs`,
    );
    out.push(`Database: ${databases.label}`);
    out.push(
      `Measured as deployed: \`${start.text}\` (package.json "start"), in production mode (NODE_ENV=production), ` +
        'behind a pretend TLS proxy (X-Forwarded-Proto: https on every request, TRUST_PROXY=1, __Host- cookies), with logs at info.',
    );
    out.push(
      `Its stdout (the logs) went to a file in a temporary directory (${options.keepLogs ? `kept: ${deployedLogs.file}` : 'removed at the end; --keep-logs keeps it'}): ` +
        `${deployedLogs.lines.toLocaleString('en')} lines, ${mib(deployedLogs.bytes)} for ${deployedRequests.toLocaleString('en')} requests; ` +
        `${deployedLogs.warnings} at warn, ${deployedLogs.errors} at error or above.`,
    );
    out.push(
      'Ceiling: a bare Express 5 "hello" (bench/hello.mjs) in its own process with the same node flags, in slices alternating with each page; "vs hello" is the page over hello in the same slices.',
    );
    out.push(
      'References (bench/references.mjs, bare Express 5 apps on this checkout, same node flags, no middleware): the plain page renders views/login.njk ' +
        'through the same nunjucks environment with fixed data; the one-query page runs one SELECT by primary key over a pool made as the app makes its own, ' +
        "on the deployed process's database, then renders views/dashboard.njk. Each is measured in slices alternating with its page and hello; the goals are the page over its reference.",
    );
    out.push(
      'SQL round trips and the heap: counted in an instrumented copy of the same compiled app (dist/, the same production config, every pg.Client#query counted). ' +
        `Session rows as deployed: counted by the database (rows in sessions, and a trigger on it during the page views${triggerCounts ? '' : ': UNVERIFIED, it did not count a login'}).`,
    );
    out.push('');
    out.push(loadTable(loads));
    out.push('');
    out.push(countTable(counts));
    if (!databases.real) {
      out.push('(npm run start:cluster not measured: the embedded database serves one process; set DATABASE_URL)');
    }
    const bad = loads.reduce((sum, figure) => sum + figure.unexpected, 0);
    if (bad > 0) out.push(`warning: ${bad} unexpected responses (the "bad" column): those figures are suspect`);
    if (logs.deployed.errors + logs.deployed.warnings > 0) {
      out.push(`warning: Gatehouse logged ${logs.deployed.warnings} warnings and ${logs.deployed.errors} errors`);
    }
    const notMet = goals.filter((goal) => goal.met === false).length;
    out.push('');
    out.push(
      `${goals.length - notMet} of ${goals.length} goals met. Total ${result.totalSeconds.toFixed(0)} s; ` +
        `1-minute load average ${loadAtStart.toFixed(1)} at the start, ${loadAtEnd.toFixed(1)} at the end ` +
        `(${workers} CPUs: above that, other work shared the machine)`,
    );
    process.stdout.write(`${out.join('\n')}\n`);

    const resultsDir = path.join(HERE, 'results');
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(path.join(resultsDir, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(
      `\nWritten to bench/results/latest.json${options.keepLogs ? `; logs kept in ${workDir}` : ''}\n`,
    );
  } finally {
    await cleanup();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
