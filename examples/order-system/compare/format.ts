// How the report writes numbers and tables, shared by its sections.

/** Milliseconds, rounded, with thousands separators; `–` when there is no value. */
export const ms = (value: number | undefined): string =>
  value === undefined || Number.isNaN(value) ? '–' : Math.round(value).toLocaleString('en-US');

/** A rate with one decimal. */
export const rate = (value: number): string => value.toFixed(1);

/** A count with thousands separators; `–` when there is none. */
export function count(value: number | undefined): string {
  return value === undefined ? '–' : value.toLocaleString('en-US');
}

/** A share as a percentage with `digits` decimals; `–` for 0/0. */
export function pct(part: number, whole: number, digits = 1): string {
  return whole === 0 ? '–' : `${((part / whole) * 100).toFixed(digits)} %`;
}

/** A number with an explicit sign (a typographic minus). */
export function signed(value: number, digits = 1): string {
  return `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(digits)}`;
}

/** A ratio `a / b` as `2.35×`; `–` when it has no value. */
export function times(a: number | undefined, b: number | undefined, digits = 2): string {
  return a === undefined || b === undefined || b === 0 || Number.isNaN(a) || Number.isNaN(b)
    ? '–'
    : `${(a / b).toFixed(digits)}×`;
}

/** Seconds, rounded, from milliseconds. */
export function seconds(value: number | undefined): string {
  return value === undefined ? 'an unknown time' : `${(value / 1000).toFixed(0)} s`;
}

/**
 * A Markdown table with its columns padded, as the repository's formatter (Biome) writes them, so
 * that the generated report passes `biome check` as it is.
 */
export function markdownTable(
  header: readonly string[],
  right: readonly boolean[],
  rows: readonly string[][],
): string {
  const widths = header.map((title, i) => Math.max(3, title.length, ...rows.map((row) => row[i]!.length)));
  const pad = (cell: string, i: number): string =>
    right[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!);
  const line = (cells: readonly string[]): string => `| ${cells.map(pad).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (right[i] ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** One figure of the seed material, its measured counterpart, and the reading. */
export interface ClaimRow {
  readonly claim: string;
  /** What the workflow's own numbers give, where they give something. */
  readonly arithmetic: string;
  readonly measured: string;
  readonly reading: string;
}

/**
 * Reads a claimed ratio against a measured one: `agrees` within 20 %, `same direction` when both
 * favour the same side, else `does not`.
 */
export function readRatio(claimed: number, measured: number | undefined): string {
  if (measured === undefined || Number.isNaN(measured)) return 'not measured';
  const off = measured / claimed;
  if (off >= 0.8 && off <= 1.25) return 'agrees';
  if (claimed > 1 === measured > 1) return `same direction, ${off < 1 ? 'smaller' : 'larger'} ratio`;
  return 'does not';
}
