// `npm run build`: compiles src/ to dist/ with tsc (tsconfig.build.json). With --if-stale (what
// `npm start`, `npm run migrate` and `npm run users` run first, and the test setup) it builds only
// when dist/ is missing or older than what it is built from, so `npm ci && npm start` just works
// and a production install that has pruned its dev dependencies never needs the compiler.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stamp = path.join(root, 'dist', '.built');
const inputs = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];

/** The newest modification time (ms) under a file or directory. */
function newest(entry) {
  const stats = statSync(entry);
  if (!stats.isDirectory()) return stats.mtimeMs;
  return Math.max(stats.mtimeMs, ...readdirSync(entry).map((name) => newest(path.join(entry, name))));
}

// The browser half of passkeys, served from /static/vendor/: copied from node_modules at build
// time (never committed by hand, never from a CDN).
const vendored = [
  {
    from: path.join(root, 'node_modules', '@simplewebauthn', 'browser', 'dist', 'bundle', 'index.umd.min.js'),
    to: path.join(root, 'static', 'vendor', 'simplewebauthn-browser.umd.min.js'),
  },
];

const copyVendored = () => {
  mkdirSync(path.join(root, 'static', 'vendor'), { recursive: true });
  for (const { from, to } of vendored) copyFileSync(from, to);
};

// --vendor (what `npm run dev` runs first): only the browser files, so a fresh clone's
// `npm run dev` (tsx, no dist/) serves the passkey script too.
if (process.argv.includes('--vendor')) {
  copyVendored();
  process.exit(0);
}

const stale = () =>
  !existsSync(stamp) ||
  vendored.some(({ to }) => !existsSync(to)) ||
  inputs.some((input) => newest(path.join(root, input)) > statSync(stamp).mtimeMs);

if (process.argv.includes('--if-stale') && !stale()) process.exit(0);

const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
if (!existsSync(tsc)) {
  process.stderr.write(
    'dist/ is missing or older than src/, and TypeScript is not installed: run `npm ci && npm run build`.\n',
  );
  process.exit(1);
}
// From empty: a file deleted from src/ (a page above all, found on disk) must not live on in dist/.
rmSync(path.join(root, 'dist'), { recursive: true, force: true });
try {
  execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
} catch {
  process.stderr.write('The build failed (see above).\n');
  process.exit(1);
}
copyVendored();
// The common-password list as a sorted table of 64-bit keys (see src/users/common-passwords.ts).
const { commonPasswordTable } = await import(
  pathToFileURL(path.join(root, 'dist', 'users', 'common-passwords.js')).href
);
const { dictionary } = await import('@zxcvbn-ts/language-common');
writeFileSync(path.join(root, 'dist', 'common-passwords.bin'), commonPasswordTable(dictionary['passwords-common']));
writeFileSync(stamp, `${new Date().toISOString()}\n`);
