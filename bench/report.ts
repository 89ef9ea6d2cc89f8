/** The tables `npm run bench` prints. */

/** A figure measured under load: throughput and latency, against the hello ceiling. */
export interface LoadFigure {
  readonly name: string;
  /** Which process served it. */
  readonly served: 'deployed' | 'hello' | 'reference' | 'copy' | 'cluster' | 'bcrypt';
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  /** Responses with another status than expected, errors and timeouts. */
  readonly unexpected: number;
  readonly ratioToCeiling: number | null;
  /** The goal in words, with the measured value where it is not the ratio; null for none. */
  readonly goal: string | null;
  readonly met: boolean | null;
  /** Gatehouse's resident memory right after this figure (the deployed process), bytes. */
  readonly rssAfterBytes?: number | null;
}

/** A figure that is a count or a size. */
export interface CountFigure {
  readonly name: string;
  readonly measured: string;
  readonly value: number | null;
  readonly goal: string | null;
  readonly met: boolean | null;
}

export const mib = (bytes: number | null | undefined): string =>
  bytes == null ? '-' : `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
const ms = (value: number) => (value >= 100 ? value.toFixed(0) : value.toFixed(value >= 10 ? 1 : 2));
const rate = (value: number) => (value >= 100 ? Math.round(value).toLocaleString('en') : value.toFixed(1));
export const percent = (ratio: number): string => `${(ratio * 100).toFixed(1)}%`;
const verdict = (met: boolean | null) => (met === null ? '-' : met ? 'met' : 'not met');

function table(rows: string[][], rightAligned: ReadonlySet<number>): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  const line = (row: string[]) =>
    row
      .map((cell, column) =>
        rightAligned.has(column) ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0),
      )
      .join('  ')
      .trimEnd();
  const [head, ...body] = rows;
  return [line(head ?? []), widths.map((width) => '-'.repeat(width)).join('  '), ...body.map(line)].join('\n');
}

export function loadTable(figures: readonly LoadFigure[]): string {
  return table(
    [
      ['figure', 'req/s', 'p50 ms', 'p99 ms', 'vs hello', 'bad', 'goal', 'met'],
      ...figures.map((f) => [
        f.name,
        rate(f.requestsPerSecond),
        ms(f.p50Ms),
        ms(f.p99Ms),
        f.ratioToCeiling === null ? '-' : percent(f.ratioToCeiling),
        String(f.unexpected),
        f.goal ?? '-',
        verdict(f.met),
      ]),
    ],
    new Set([1, 2, 3, 4, 5]),
  );
}

export function countTable(figures: readonly CountFigure[]): string {
  return table(
    [['figure', 'measured', 'goal', 'met'], ...figures.map((f) => [f.name, f.measured, f.goal ?? '-', verdict(f.met)])],
    new Set(),
  );
}
