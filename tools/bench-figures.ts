// One source for every benchmark figure in the docs: bench/results/latest.json, written by
// `npm run bench`. docs/benchmarks.md is generated whole (bench/report.ts); other pages carry
// generated blocks between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`, which this tool
// fills from the same results. `npm run bench` refreshes them, `npm run docs:figures` does it
// from the stored results, and docs/figures.test.ts checks that they are fresh and that no page
// copies a throughput figure by hand outside them.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MachineInfo } from '../bench/lib/machine';
import { type BenchResult, baselineOf, findRow } from '../bench/lib/result';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The pages that quote benchmark figures in generated blocks. */
export const figurePages = [
  'docs/observability.md',
  'docs/outbox.md',
  'docs/adapters/kafka.md',
  'docs/adapters/nats.md',
  'docs/adapters/rabbitmq.md',
  'docs/adapters/redis-streams.md',
].map((page) => join(root, page));

const number = (n: number): string => n.toLocaleString('en-US');

/** The row of one scenario: raw on the lane `lane` (default the bare 'raw'), Tidings on its tuned lane unless told. */
function row(
  results: readonly BenchResult[],
  broker: string,
  scenario: string,
  impl: 'raw' | 'tidings',
  lane: string = impl === 'raw' ? 'raw' : 'tuned',
) {
  return findRow(results, broker, scenario, impl, lane);
}

function measuredOn(machine: MachineInfo): string {
  return (
    `Generated from [the latest benchmark run](${'BENCHMARKS'}) (${machine.cpu}, ${machine.cores} cores, ` +
    `Node.js ${machine.node}, ${machine.date.slice(0, 10)}; every broker on the same machine).`
  );
}

function tracingBlock(results: readonly BenchResult[]): string[] {
  const variants: [string, string][] = [
    ['tracing-off', '`telemetry: false`'],
    ['tracing-noop', 'the default, no SDK registered'],
    ['tracing-sdk', 'every span recorded, every metric, `AsyncLocalStorage` context'],
  ];
  const lines = ['| variant | set-up | events/s |', '| --- | --- | ---: |'];
  for (const [scenario, setUp] of variants) {
    const result = row(results, 'memory', scenario, 'tidings');
    lines.push(`| \`${scenario}\` | ${setUp} | ${result === undefined ? '' : number(result.msgsPerSec)} |`);
  }
  return lines;
}

const brokerNames: Readonly<Record<string, string>> = {
  memory: 'memory',
  rabbitmq: 'RabbitMQ',
  nats: 'NATS JetStream',
  redis: 'Redis Streams',
  kafka: 'Kafka',
};

function outboxBlock(results: readonly BenchResult[]): string[] {
  const lines = [
    '| from PostgreSQL to | `outbox-write` | `outbox-relay` (defaults) | `outbox-relay-tuned` |',
    '| --- | ---: | ---: | ---: |',
  ];
  for (const [broker, name] of Object.entries(brokerNames)) {
    const cells = ['outbox-write', 'outbox-relay', 'outbox-relay-tuned'].map((scenario) => {
      const result = row(results, `postgres→${broker}`, scenario, 'tidings');
      return result === undefined ? '' : `${number(result.msgsPerSec)} ev/s`;
    });
    if (cells.some((cell) => cell !== '')) lines.push(`| ${name} | ${cells.join(' | ')} |`);
  }
  return lines;
}

/**
 * A broker's figures: publish, consume and latency of Tidings tuned beside the raw lane it divides by
 * (named in the header when the run had named lanes), then, where the run has them, consume with no
 * subscription options (Tidings default) and consume in batches.
 */
function brokerBlock(results: readonly BenchResult[], broker: string): string[] {
  const tuned = results.find((r) => r.broker === broker && r.impl === 'tidings');
  const baseline = tuned === undefined ? 'raw' : baselineOf(tuned);
  const rawHeader = baseline === 'raw' ? 'raw client' : `raw client (${baseline})`;
  const lines = [`| scenario | ${rawHeader} | Tidings | Tidings / raw |`, '| --- | ---: | ---: | ---: |'];
  const throughput: [string, string, string][] = [
    ['publish', 'publish, 100 in flight (msg/s)', 'tuned'],
    ['consume', 'consume the backlog (msg/s)', 'tuned'],
    ['consume', 'consume the backlog, no subscription options (msg/s)', 'default'],
    ['consume-batch', 'consume the backlog in batches of 100 (msg/s)', 'tuned'],
  ];
  for (const [scenario, label, lane] of throughput) {
    const raw = row(results, broker, scenario, 'raw', baseline);
    const tidings = row(results, broker, scenario, 'tidings', lane);
    // A lane or scenario the run did not have is left out, not shown empty.
    if (lane !== 'tuned' && tidings === undefined) continue;
    if (scenario === 'consume-batch' && raw === undefined && tidings === undefined) continue;
    const share =
      raw !== undefined && tidings !== undefined ? (tidings.msgsPerSec / raw.msgsPerSec).toFixed(2) : '';
    lines.push(
      `| ${label} | ${raw === undefined ? '' : number(raw.msgsPerSec)} | ${tidings === undefined ? '' : number(tidings.msgsPerSec)} | ${share} |`,
    );
  }
  const latency: [string, string][] = [
    ['e2e-latency', 'publish → handler at a fixed rate, p50 / p99 (ms)'],
    ['serial-latency', 'one at a time, publish → handler, p50 / p99 (ms)'],
  ];
  const ms = (r: BenchResult | undefined): string =>
    r === undefined || r.p50Ms === null
      ? ''
      : `${r.p50Ms.toFixed(2)} / ${(r.p99Ms ?? Number.NaN).toFixed(2)}`;
  for (const [scenario, label] of latency) {
    lines.push(
      `| ${label} | ${ms(row(results, broker, scenario, 'raw', baseline))} | ${ms(row(results, broker, scenario, 'tidings'))} | |`,
    );
  }
  return lines;
}

/** A row of bench/results/kafka-clients.json (bench/kafka-clients.ts). */
interface ClientRow {
  readonly scenario: string;
  readonly client: string;
  readonly msgsPerSec: number | null;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly durationMs: number | null;
}

/**
 * kafkajs beside @platformatic/kafka, from their own run (`npm run bench:kafka-clients`), kept in
 * bench/results/kafka-clients.json with the machine it ran on: it is not part of `npm run bench`.
 */
function kafkaClientsBlock(): { machine: MachineInfo; lines: string[] } {
  const { machine, rows } = JSON.parse(
    readFileSync(join(root, 'bench', 'results', 'kafka-clients.json'), 'utf8'),
  ) as { machine: MachineInfo; rows: ClientRow[] };
  const clients = ['kafkajs', '@platformatic/kafka'];
  const find = (scenario: string, client: string) =>
    rows.find((r) => r.scenario === scenario && r.client === client);
  const rate = (scenario: string) => rows.find((r) => r.scenario === scenario)?.msgsPerSec ?? 0;
  const lines = [
    '| scenario | kafkajs | @platformatic/kafka | @platformatic/kafka / kafkajs |',
    '| --- | ---: | ---: | ---: |',
  ];
  const scenarios: [string, string, (r: ClientRow) => number | null, (r: ClientRow) => string][] = [
    [
      'publish',
      'publish, batches of 500, idempotent (msg/s)',
      (r) => r.msgsPerSec,
      (r) => number(r.msgsPerSec ?? 0),
    ],
    ['consume', 'consume the backlog (msg/s)', (r) => r.msgsPerSec, (r) => number(r.msgsPerSec ?? 0)],
    [
      'e2e-latency',
      `send → consumer at ${rate('e2e-latency')}/s, p50 / p99 (ms)`,
      (r) => r.p50Ms,
      (r) => `${(r.p50Ms ?? Number.NaN).toFixed(1)} / ${(r.p99Ms ?? Number.NaN).toFixed(1)}`,
    ],
    [
      'group-join',
      '10 members join one group, all assigned (ms)',
      (r) => r.durationMs,
      (r) => number(r.durationMs ?? 0),
    ],
  ];
  for (const [scenario, label, value, shown] of scenarios) {
    const [a, b] = clients.map((client) => find(scenario, client));
    const va = a === undefined ? null : value(a);
    const vb = b === undefined ? null : value(b);
    // No ratio of two latency pairs: one number would hide which of p50 and p99 moved.
    const share =
      scenario !== 'e2e-latency' && va !== null && vb !== null && va > 0 ? (vb / va).toFixed(2) : '';
    lines.push(
      `| ${label} | ${a === undefined ? '' : shown(a)} | ${b === undefined ? '' : shown(b)} | ${share} |`,
    );
  }
  return { machine, lines };
}

/** The content of every generated block, by name, for the page at `page`. */
export function renderBlock(
  name: string,
  results: readonly BenchResult[],
  machine: MachineInfo,
  page: string,
): string {
  let lines: string[];
  if (name === 'kafka-clients') {
    // Its own run, on its own date, outside the benchmark report.
    const { machine: ran, lines: table } = kafkaClientsBlock();
    return [
      `Generated from \`npm run bench:kafka-clients\` (${ran.cpu}, ${ran.cores} cores, Node.js ${ran.node}, ` +
        `${ran.date.slice(0, 10)}; the broker on the same machine).`,
      '',
      ...table,
    ].join('\n');
  }
  if (name === 'tracing') lines = tracingBlock(results);
  else if (name === 'outbox') lines = outboxBlock(results);
  else if (name.startsWith('broker:')) lines = brokerBlock(results, name.slice('broker:'.length));
  else throw new Error(`${relative(root, page)}: unknown benchmark block "${name}"`);
  const link = relative(dirname(page), join(root, 'docs', 'benchmarks.md'));
  return [measuredOn(machine).replace('BENCHMARKS', link), '', ...lines].join('\n');
}

const BLOCK = /<!-- bench:([\w:-]+) -->\n[\s\S]*?<!-- \/bench:\1 -->/g;

/** `document` with every generated block filled from `results`. */
export function withFreshFigures(
  document: string,
  results: readonly BenchResult[],
  machine: MachineInfo,
  page: string,
): string {
  return document.replace(
    BLOCK,
    (_block, name: string) =>
      `<!-- bench:${name} -->\n${renderBlock(name, results, machine, page)}\n<!-- /bench:${name} -->`,
  );
}

/** A table's cells without the padding and alignment the formatter (Biome) gives them. */
function unpadded(text: string): string {
  return text
    .split('\n')
    .map((line) =>
      line.startsWith('|')
        ? line
            .split('|')
            .map((cell) => cell.trim().replace(/^(:?)-+(:?)$/, '$1-$2'))
            .join('|')
        : line,
    )
    .join('\n');
}

/** The generated blocks of `document` that differ from what `results` give, by name. */
export function staleBlocks(
  document: string,
  results: readonly BenchResult[],
  machine: MachineInfo,
  page: string,
): string[] {
  const fresh = withFreshFigures(document, results, machine, page);
  const blocks = (text: string) => new Map([...text.matchAll(BLOCK)].map((m) => [m[1]!, unpadded(m[0])]));
  const now = blocks(document);
  return [...blocks(fresh)].filter(([name, block]) => now.get(name) !== block).map(([name]) => name);
}

/** The names of the generated blocks in `document`. */
export function blockNames(document: string): string[] {
  return [...document.matchAll(BLOCK)].map((m) => m[1]!);
}

/**
 * Throughput figures written by hand: a number of a thousand or more (or a "k" figure) followed
 * by msg/s, ev/s or events/s, outside the generated blocks.
 */
export function copiedFigures(document: string): string[] {
  const outside = document.replace(BLOCK, '');
  const figure = /\b\d[\d,.–-]*\s?k?\s*(?:msg\/s|ev\/s|events\/s|events per second|messages per second)/g;
  const copies = [...outside.matchAll(figure)].map((match) => match[0]);
  // A table whose header says msg/s or events/s, with figures in its cells.
  const lines = outside.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith('|') || lines[i - 1]?.startsWith('|')) continue;
    const header = lines[i]!;
    let end = i;
    while (lines[end + 1]?.startsWith('|')) end++;
    if (!/(?:msg|ev|events)\/s/.test(header)) continue;
    for (const line of lines.slice(i + 2, end + 1)) {
      const cell = /\b\d{1,3}(?:,\d{3})+\b/.exec(line);
      if (cell !== null) copies.push(`${cell[0]} in a table of ${header.replace(/\s+/g, ' ')}`);
    }
  }
  return copies;
}

/** The stored results of the latest full run. */
export async function latestResults(): Promise<{ results: BenchResult[]; machine: MachineInfo }> {
  const dir = join(root, 'bench', 'results');
  return {
    results: JSON.parse(await readFile(join(dir, 'latest.json'), 'utf8')) as BenchResult[],
    machine: JSON.parse(await readFile(join(dir, 'machine.json'), 'utf8')) as MachineInfo,
  };
}

/** Rewrites the generated blocks of every page from `results`. */
export async function writeFigures(results: readonly BenchResult[], machine: MachineInfo): Promise<void> {
  for (const page of figurePages) {
    const document = await readFile(page, 'utf8');
    await writeFile(page, withFreshFigures(document, results, machine, page));
  }
  // The pages are formatted like every other file (tables padded).
  execFileSync(join(root, 'node_modules', '.bin', 'biome'), ['format', '--write', ...figurePages], {
    stdio: 'ignore',
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { results, machine } = await latestResults();
  await writeFigures(results, machine);
}
