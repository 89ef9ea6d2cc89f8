import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The hostile-input corpus, kept (and grown) in the repository: tests/fixtures/corpus. */
const CORPUS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/corpus');

const unescape = (line: string) =>
  line.replace(/\\([tnrb\\])/g, (_match, c: string) => ({ t: '\t', n: '\n', r: '\r', b: '\b', '\\': '\\' })[c] ?? c);

const lines = (file: string) =>
  readFileSync(path.join(CORPUS_DIR, file), 'utf8')
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'));

/** One case per line, escapes decoded, comments and blank lines dropped. */
export const corpus = (file: string): string[] => lines(file).map(unescape);

/** bad-fields.txt as [field, value] pairs (a real tab separates them; escapes are in the value). */
export function badFields(): Array<[string, string]> {
  return lines('bad-fields.txt').map((line) => {
    const tab = line.indexOf('\t');
    return [line.slice(0, tab), unescape(line.slice(tab + 1))];
  });
}
