import { UNPRINTABLE } from '../mail/mail-templates.js';

/** What a table cell can hold; each kind has one way of being shown. */
export type Cell = string | number | boolean | Date | null;

/**
 * Text made safe to print on a terminal: every unprintable character becomes "?". A user agent,
 * an IP or an audit detail comes from a visitor: printed raw, it could move the cursor, recolour
 * or rewrite the admin's terminal, reorder what they read, or start a line of its own.
 */
export const printable = (text: string): string => text.replace(UNPRINTABLE, '?');

/** A moment as "2026-11-27 12:34 UTC": the same on every server, whatever its zone. */
export const formatTime = (date: Date): string => `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

export function cellText(value: Cell): string {
  if (value === null) return '-';
  if (value instanceof Date) return formatTime(value);
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return printable(String(value));
}

// Widths in code points, so that an accented name does not shift its column.
const width = (text: string): number => [...text].length;
const clip = (text: string, max: number): string =>
  width(text) <= max ? text : `${[...text].slice(0, max - 1).join('')}…`;
const pad = (text: string, to: number): string => text + ' '.repeat(Math.max(0, to - width(text)));

/**
 * A plain text table: a header line, then one line per row, columns two spaces
 * apart. No cell is wider than maxCell (longer ones end in "…").
 */
export function textTable(headers: readonly string[], rows: readonly (readonly Cell[])[], maxCell = 48): string[] {
  const texts = rows.map((row) => headers.map((_header, i) => clip(cellText(row[i] ?? null), maxCell)));
  const widths = headers.map((header, i) => Math.max(width(header), ...texts.map((row) => width(row[i] ?? ''))));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => pad(cell, widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), ...texts.map(line)];
}

/** "label   value" lines, the values in one column; nothing clipped. */
export function fieldList(fields: readonly (readonly [string, Cell])[]): string[] {
  const labelWidth = Math.max(0, ...fields.map(([label]) => width(label)));
  return fields.map(([label, value]) => `${pad(label, labelWidth)}  ${cellText(value)}`);
}
