import { SingleBar } from 'cli-progress';
import pc from 'picocolors';

/** Where a command writes, and what it knows of the terminal. Tests pass their own. */
export interface Io {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

/** The colours of one output stream: none when it is not a terminal or NO_COLOR is set. */
export type Colors = ReturnType<typeof pc.createColors>;

export function colorsFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): Colors {
  const forced = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0';
  const off = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
  return pc.createColors(forced || (!off && stream.isTTY === true));
}

/** Writes a line to stdout. */
export function line(io: Io, text = ''): void {
  io.stdout.write(`${text}\n`);
}

/** Writes a line of progress or diagnostics to stderr, where it never mixes with `--json` output. */
export function note(io: Io, text: string): void {
  io.stderr.write(`${text}\n`);
}

/** One JSON document on stdout (`--json`). */
export function json(io: Io, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, jsonReplacer)}\n`);
}

/** Bytes as base64 and errors as their name and message in `--json` output. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return { base64: Buffer.from(value).toString('base64') };
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (value instanceof RegExp) return value.source;
  return value;
}

/**
 * Rows as aligned columns with a header, for people; scripts use `--json`. A cell is cut to
 * `maxWidth` with an ellipsis so that a long reason does not break the table.
 */
export function table(
  io: Io,
  columns: readonly string[],
  rows: readonly (readonly string[])[],
  maxWidth = 60,
): void {
  const c = colorsFor(io.stdout, io.env);
  const cut = (text: string) => (text.length > maxWidth ? `${text.slice(0, maxWidth - 1)}…` : text);
  const cells = rows.map((row) => row.map(cut));
  const widths = columns.map((name, i) => Math.max(name.length, ...cells.map((row) => row[i]?.length ?? 0)));
  const render = (row: readonly string[]) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  line(io, c.bold(render(columns)));
  for (const row of cells) line(io, render(row));
}

/** A progress display for long work: counts, rate and ETA. */
export interface Progress {
  update(done: number): void;
  stop(): void;
}

/**
 * A progress bar on stderr when it is a terminal (cli-progress); otherwise the same counts as a
 * plain line every two seconds and at the end, which logs and CI read well.
 */
export function progress(io: Io, task: string, total: number): Progress {
  const tty = io.stderr.isTTY === true;
  const started = performance.now();
  const bar = new SingleBar({
    stream: io.stderr,
    format: tty
      ? `${task} [{bar}] {percentage}% | {value}/{total} | {rate}/s | ETA {eta_formatted}`
      : `${task}: {value}/{total} ({percentage}%), {rate}/s, ETA {eta_formatted}`,
    noTTYOutput: !tty,
    notTTYSchedule: 2_000,
    barCompleteChar: '\u2588',
    barIncompleteChar: '\u2591',
    hideCursor: tty,
    etaBuffer: 50,
    fps: 10,
  });
  const rate = (done: number) => {
    // Under half a second the first batch alone would make the rate absurd.
    const seconds = (performance.now() - started) / 1000;
    return seconds >= 0.5 ? Math.round(done / seconds).toString() : '-';
  };
  bar.start(total, 0, { rate: '-' });
  let last = 0;
  return {
    update(done) {
      last = done;
      bar.update(done, { rate: rate(done) });
    },
    stop() {
      bar.update(last, { rate: rate(last) });
      // Not a terminal: cli-progress writes on its schedule only; the last counts are the ones
      // a log needs.
      if (!tty) bar.render();
      bar.stop();
    },
  };
}
