/**
 * `npm run bench:side-by-side -- <page> <checkout> <checkout> [...] [--rounds N] [--seconds N]`
 *
 * Two or more compiled checkouts of Gatehouse served side by side, each as `npm run bench` serves
 * one (its own package.json "start" line, production mode behind a pretend TLS proxy, logs at
 * info to a file), each on a fresh database of its own on DATABASE_URL's server (dropped after),
 * and loaded in turn with autocannon in alternating rounds (a b, b a, a b, ...), so that whatever
 * else the machine does weighs on all alike. For each it prints the median requests/s and the
 * median CPU per view: all of the process's threads (the collector's helpers count) and its main
 * thread alone, read from /proc. CPU per view is what to compare on a shared machine: requests/s
 * moves with everything else that runs.
 *
 *   <page>      / (a logged-in user's dashboard: each checkout signs one up first) or a public page
 *               such as /login (each request a new visitor, no cookies)
 *   <checkout>  a directory with the app built (npm ci && npm run build); "." is this one. The
 *               code before a change: git worktree add /tmp/before <commit>, then build it there
 *   --rounds N  alternating rounds (default 6); --seconds N: seconds per round (default 4)
 *
 * What the bench's figures cannot say (is this change faster?) this says, side by side.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { BROWSER_HEADERS, type Result, deployedEnv, load, median, perSecond, signUp } from './http.js';
import { type Server, nodeScript, startServer } from './processes.js';

const USAGE = 'usage: npm run bench:side-by-side -- <page> <checkout> <checkout> [...] [--rounds N] [--seconds N]';

interface Options {
  readonly page: string;
  readonly checkouts: readonly string[];
  readonly rounds: number;
  readonly seconds: number;
}

function parseArgs(argv: readonly string[]): Options {
  const positional: string[] = [];
  const numbers: Record<string, number> = { '--rounds': 6, '--seconds': 4 };
  for (let index = 0; index < argv.length; index++) {
    const word = argv[index] ?? '';
    if (word in numbers) {
      const value = Number(argv[++index]);
      if (!Number.isInteger(value) || value <= 0) throw new Error(`${word} needs a whole number above 0`);
      numbers[word] = value;
    } else if (word.startsWith('-')) throw new Error(`unknown option ${word}\n${USAGE}`);
    else positional.push(word);
  }
  const [page, ...checkouts] = positional;
  if (page === undefined || !page.startsWith('/') || checkouts.length < 2) throw new Error(USAGE);
  return { page, checkouts, rounds: numbers['--rounds'] ?? 6, seconds: numbers['--seconds'] ?? 4 };
}

/** CPU time (ms) a process has used: all its threads, and its main thread alone. */
function cpuOf(pid: number): { all: number; main: number } {
  const ticks = (stat: string): number => {
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, in 10 ms ticks
  };
  const taskDir = `/proc/${pid}/task`;
  const all = readdirSync(taskDir).reduce(
    (sum, task) => sum + ticks(readFileSync(`${taskDir}/${task}/stat`, 'utf8')),
    0,
  );
  return { all, main: ticks(readFileSync(`${taskDir}/${pid}/stat`, 'utf8')) };
}

interface Contender {
  readonly label: string;
  readonly server: Server;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly rounds: { perSecond: number; cpuMs: number; mainMs: number; bad: number }[];
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const adminUrl = process.env['DATABASE_URL'];
  if (!adminUrl) throw new Error('DATABASE_URL must name a real Postgres: each checkout gets a database there');
  const workDir = mkdtempSync(path.join(tmpdir(), 'gatehouse-side-by-side-'));
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const databases: string[] = [];
  const contenders: Contender[] = [];
  try {
    for (const [index, checkout] of options.checkouts.entries()) {
      const root = path.resolve(checkout);
      const name = `gatehouse_side_${randomBytes(4).toString('hex')}`;
      await admin.query(`CREATE DATABASE ${name}`);
      databases.push(name);
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      const start = nodeScript('start', root);
      const server = await startServer(
        `${checkout} (npm start)`,
        start,
        { ...deployedEnv(10), DATABASE_URL: url.toString() },
        workDir,
        path.join(workDir, `server-${index}.log`),
      );
      const base = `http://127.0.0.1:${server.port}`;
      const headers =
        options.page === '/'
          ? { ...BROWSER_HEADERS, cookie: (await signUp(base, 'Side by side')).cookie }
          : BROWSER_HEADERS;
      contenders.push({ label: checkout, server, url: `${base}${options.page}`, headers, rounds: [] });
    }
    const once = (contender: Contender, seconds: number): Promise<Result> =>
      load({ url: contender.url, connections: 10, headers: contender.headers, duration: seconds, expect: 200 }).result;
    for (const contender of contenders) await once(contender, 2); // the JIT and the heap's first growth
    for (let round = 0; round < options.rounds; round++) {
      for (const contender of round % 2 === 0 ? contenders : [...contenders].reverse()) {
        const before = cpuOf(contender.server.pid);
        const result = await once(contender, options.seconds);
        const after = cpuOf(contender.server.pid);
        const views = Math.max(result.requests.total, 1);
        contender.rounds.push({
          perSecond: perSecond(result),
          cpuMs: (after.all - before.all) / views,
          mainMs: (after.main - before.main) / views,
          bad: result.unexpected,
        });
      }
    }
    console.log(`GET ${options.page}, 10 connections, ${options.rounds} alternating rounds of ${options.seconds} s`);
    console.log(
      'checkout'.padEnd(40),
      'req/s'.padStart(7),
      'CPU µs/view'.padStart(12),
      'main thread'.padStart(12),
      ' bad  rounds (CPU µs/view)',
    );
    for (const { label, rounds } of contenders) {
      const us = (ms: number) => (ms * 1000).toFixed(0);
      console.log(
        label.padEnd(40),
        median(rounds.map((r) => r.perSecond))
          .toFixed(0)
          .padStart(7),
        us(median(rounds.map((r) => r.cpuMs))).padStart(12),
        us(median(rounds.map((r) => r.mainMs))).padStart(12),
        String(rounds.reduce((sum, r) => sum + r.bad, 0)).padStart(4),
        ` ${rounds.map((r) => us(r.cpuMs)).join(' ')}`,
      );
    }
    if (contenders.some(({ rounds }) => rounds.some((r) => r.bad > 0))) process.exitCode = 1;
  } finally {
    await Promise.all(contenders.map(({ server }) => server.stop()));
    for (const name of databases) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});
