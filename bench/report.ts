// Turns benchmark results into docs/benchmarks.md (tables) and docs/benchmarks.svg (a chart).
// Run alone to regenerate the docs from bench/results/latest.json: npx tsx bench/report.ts
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MachineInfo } from './lib/machine';
import { type BenchResult, baselineOf, findRow, type Impl, laneOf } from './lib/result';

const docs = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs');

const number = (n: number): string => n.toLocaleString('en-US');
const latency = (n: number | null | undefined): string => (n === null || n === undefined ? '' : n.toFixed(3));
const ratio = (value: number | undefined): string => (value === undefined ? '' : value.toFixed(2));

/** The brokers' names in headings, in the order the report shows them. */
const BROKERS: Readonly<Record<string, string>> = {
  kafka: 'Kafka',
  nats: 'NATS JetStream',
  rabbitmq: 'RabbitMQ',
  redis: 'Redis Streams',
};

/** What each lane is, by name (lib/driver.ts and each broker's file say more). */
const LANES: Readonly<Record<string, string>> = {
  raw: "the broker's own client as its docs recommend",
  platformatic:
    '@platformatic/kafka: publishes in flight gathered into each idempotent send, as the adapter does; stream consumer, commits every 200 ms',
  kafkajs: 'kafkajs: publishes in flight gathered into each idempotent send; eachMessage, automatic commits',
  'kafkajs-per-record': 'kafkajs, one send per publish, as its docs show for one message',
  'nats.js': 'js.publish awaiting each ack; consume() pulling 64 ahead, an ack each',
  amqplib: 'confirm channel, persistent messages; prefetch 64, an ack each',
  ioredis: 'XADD, pipelined; XREADGROUP COUNT 64, one XACK per read',
  default:
    'Tidings, no subscription options: concurrency 16, prefetch 64, ordering by key where the adapter orders',
  tuned: "Tidings, concurrency and prefetch 64 as the raw consumer's prefetch or read count, ordering 'none'",
};

/**
 * Per broker, which setting to change and why the default is what it is: shown under a broker whose
 * Tidings default lane consumes at less than {@link ADVICE_BELOW} of its raw lane.
 */
const ADVICE: Readonly<Record<string, string>> = {
  kafka:
    "Set `ordering: 'none'` and `concurrency: 64` where handlers need no per-key order: by default a subscription handles each key's events in the order Kafka stored them, one at a time, because most consumers of one key's events (an order's, an account's) depend on that order.",
  nats: "Set `ordering: 'none'` and `concurrency: 64` where handlers need no per-key order: by default the adapter handles each of a topic's partitions one record at a time, to keep each key's events in order, as most consumers need.",
  rabbitmq:
    "Raise `concurrency` to 64 where handlers can run that many at once: the default runs 16 because handlers usually share a database pool of about that size; the queue's prefetch already follows at four times the concurrency.",
  redis:
    "Set `ordering: 'none'` and `concurrency: 64` where handlers need no per-key order: by default a subscription keeps each key's events in the order they were added, one at a time.",
};
/** The default lane's share of raw below which the report gives the broker's {@link ADVICE}. */
const ADVICE_BELOW = 0.8;

/** Throughput scenarios of the broker tables, in column order. */
const THROUGHPUT = ['publish', 'consume', 'consume-batch'] as const;
const LATENCY = ['e2e-latency', 'serial-latency'] as const;

/** `part` over `whole`, or undefined when either is missing or `whole` is 0. */
function share(part: number | null | undefined, whole: number | null | undefined): number | undefined {
  if (part === null || part === undefined || whole === null || whole === undefined || whole === 0)
    return undefined;
  return part / whole;
}

/** The lanes of `broker` in `results`: raw ones first, in the order they ran, then Tidings default and tuned. */
function lanesOf(results: readonly BenchResult[], broker: string): { impl: Impl; lane: string }[] {
  const seen = new Map<string, { impl: Impl; lane: string }>();
  for (const row of results.filter((r) => r.broker === broker)) {
    const lane = laneOf(row);
    seen.set(`${row.impl}/${lane}`, { impl: row.impl, lane });
  }
  const order = (entry: { impl: Impl; lane: string }) =>
    entry.impl === 'raw' ? 0 : entry.lane === 'default' ? 1 : 2;
  return [...seen.values()].sort((a, b) => order(a) - order(b));
}

/** The raw lane the Tidings rows of `broker` divide by. */
function baselineLane(results: readonly BenchResult[], broker: string): string {
  const tidings = results.find((r) => r.broker === broker && r.impl === 'tidings');
  return tidings === undefined ? 'raw' : baselineOf(tidings);
}

/** How the report names a lane in a column or row: "raw kafkajs", "Tidings tuned". */
const laneTitle = (impl: Impl, lane: string): string =>
  impl === 'raw' ? (lane === 'raw' ? 'raw' : `raw ${lane}`) : `Tidings ${lane}`;

/** The explicit in-memory targets: pipeline-zod's rate and share of the bare adapter, poison's share of it. */
function memoryTargets(results: readonly BenchResult[]): string[] {
  const bare = findRow(results, 'memory', 'pipeline', 'raw', 'raw');
  const zod = findRow(results, 'memory', 'pipeline-zod', 'tidings', 'tuned');
  const poison = findRow(results, 'memory', 'poison-1pct', 'tidings', 'tuned');
  if (zod === undefined) return [];
  const met = (value: number | undefined, target: number) =>
    value === undefined ? '' : value >= target ? 'yes' : 'no';
  const zodShare = share(zod.msgsPerSec, bare?.msgsPerSec);
  const poisonShare = share(poison?.msgsPerSec, zod.msgsPerSec);
  return [
    '| target | measured | goal | met |',
    '| --- | ---: | ---: | --- |',
    `| \`pipeline-zod\`, the whole pipeline with zod (events/s) | ${number(zod.msgsPerSec)} | 300,000 | ${met(zod.msgsPerSec, 300_000)} |`,
    `| \`pipeline-zod\` ÷ bare adapter (raw \`pipeline\`) | ${ratio(zodShare)} | 0.95 | ${met(zodShare, 0.95)} |`,
    `| \`poison-1pct\` ÷ \`pipeline-zod\` (1 % poison ÷ happy path) | ${ratio(poisonShare)} | 0.95 | ${met(poisonShare, 0.95)} |`,
  ];
}

/** One broker's section: lanes and their throughput with ratios, the advice, and latency. */
function brokerSection(results: readonly BenchResult[], broker: string): string[] {
  const baseline = baselineLane(results, broker);
  const base = (scenario: string) => findRow(results, broker, scenario, 'raw', baseline);
  const lanes = lanesOf(results, broker);
  const client =
    broker === 'kafka'
      ? baseline === 'kafkajs'
        ? "Tidings runs on kafkajs here (`client: 'kafkajs'`)"
        : "Tidings runs on @platformatic/kafka here, the adapter's default client"
      : 'Tidings runs on the same client';
  const lines = [
    `### ${BROKERS[broker] ?? broker}`,
    '',
    `${client}; every ratio divides by the ${laneTitle('raw', baseline)} lane (÷ ${baseline}).`,
    '',
    `| lane | what it is | ${THROUGHPUT.map((s) => `${s} msg/s`).join(' | ')} | ${THROUGHPUT.map((s) => `${s} ÷ ${baseline}`).join(' | ')} |`,
    `| --- | --- | ${THROUGHPUT.map(() => '---:').join(' | ')} | ${THROUGHPUT.map(() => '---:').join(' | ')} |`,
  ];
  for (const { impl, lane } of lanes) {
    const rows = THROUGHPUT.map((scenario) => findRow(results, broker, scenario, impl, lane));
    if (rows.every((row) => row === undefined)) continue;
    const isBaseline = impl === 'raw' && lane === baseline;
    const rates = rows.map((row) => (row === undefined ? '' : number(row.msgsPerSec)));
    const shares = THROUGHPUT.map((scenario, i) =>
      isBaseline ? '' : ratio(share(rows[i]?.msgsPerSec, base(scenario)?.msgsPerSec)),
    );
    // Rows from before lanes had names say so: what their lanes were is in that run's commit.
    const legacy = rows.some((row) => row !== undefined && row.lane === undefined);
    const what = legacy ? 'a run from before lanes had names' : (LANES[lane] ?? '');
    lines.push(`| ${laneTitle(impl, lane)} | ${what} | ${rates.join(' | ')} | ${shares.join(' | ')} |`);
  }
  // Only consume: publishing does not depend on subscription options, so no setting of them helps it.
  const defaultConsume = share(
    findRow(results, broker, 'consume', 'tidings', 'default')?.msgsPerSec,
    base('consume')?.msgsPerSec,
  );
  if (defaultConsume !== undefined && defaultConsume < ADVICE_BELOW && ADVICE[broker] !== undefined) {
    lines.push(
      '',
      `Tidings default consumes at ${ratio(defaultConsume)} of raw ${baseline}: ${ADVICE[broker]}`,
    );
  }
  const latencyRows = LATENCY.flatMap((scenario) => {
    const raw = base(scenario);
    const tidings = findRow(results, broker, scenario, 'tidings', 'tuned');
    if (raw === undefined && tidings === undefined) return [];
    const any = (tidings ?? raw)!;
    return [
      `| ${scenario} | ${number(any.msgsPerSec)} | ${latency(raw?.p50Ms)} | ${latency(tidings?.p50Ms)} | ${ratio(share(tidings?.p50Ms, raw?.p50Ms))} | ${latency(raw?.p99Ms)} | ${latency(tidings?.p99Ms)} | ${ratio(share(tidings?.p99Ms, raw?.p99Ms))} | ${number(any.messages)} |`,
    ];
  });
  if (latencyRows.length > 0) {
    lines.push(
      '',
      `| latency (ms) | rate msg/s | ${laneTitle('raw', baseline)} p50 | Tidings tuned p50 | p50 ÷ ${baseline} | ${laneTitle('raw', baseline)} p99 | Tidings tuned p99 | p99 ÷ ${baseline} | messages |`,
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...latencyRows,
    );
  }
  lines.push('');
  return lines;
}

export function renderMarkdown(results: readonly BenchResult[], machine: MachineInfo): string {
  const lines = [
    '# Benchmarks',
    '',
    '<!-- Generated by `npm run bench` from bench/results/latest.json; do not edit by hand. -->',
    '',
    `Measured on ${machine.cpu} (${machine.cores} cores, ${machine.memoryGiB} GiB), ${machine.platform}, Node.js ${machine.node}, ${machine.date.slice(0, 10)}.`,
    'Every broker ran on the same machine as the benchmark, with 1 KiB JSON events. A raw lane is a broker',
    'client used as a skilled user writes it for throughput, sending an id and a type with each event; a',
    'Tidings lane is the same work through the bus, with validation on both sides, the CloudEvents',
    'envelope and the default policies on. "Tidings default" subscribes with no options (what a user gets',
    'first); "Tidings tuned" with the concurrency and ordering of the raw consumer. The lanes take turns',
    'within each round, and each figure is the median of its rounds. Every ratio names the raw lane it',
    'divides by.',
    '',
    '![Tidings as a share of the raw client](benchmarks.svg)',
    '',
    '## In memory',
    '',
    'The full pipeline (publish → validate → encode → adapter → decode → validate → policies → handler)',
    'over the in-memory adapter, beside the bare adapter moving pre-encoded events of the same size (the',
    'raw `pipeline` row).',
    '',
  ];
  const memory = results.filter((r) => r.broker === 'memory');
  if (memory.length > 0) {
    lines.push(
      ...memoryTargets(results),
      '',
      '| scenario | side | events/s | messages | bytes |',
      '| --- | --- | ---: | ---: | ---: |',
    );
    for (const row of memory) {
      lines.push(
        `| ${row.scenario} | ${row.impl} | ${number(row.msgsPerSec)} | ${number(row.messages)} | ${row.messageBytes} |`,
      );
    }
    lines.push('');
  }
  lines.push(
    '## Brokers',
    '',
    '"publish" keeps 100 publishes in flight until each is confirmed; "consume" drains the backlog that',
    'publish left, timed from the first delivery to the last; "consume-batch" drains a backlog of the same',
    "size through the client's batch API, batches of up to 100 (kafkajs: eachBatch, one partition's fetch",
    'a batch, one commit each; @platformatic/kafka: its stream taken 100 at a time, one commit each; Redis:',
    'XREADGROUP COUNT 100 and one XACK; NATS: fetch of 100 and one ack under ack policy `all`; RabbitMQ:',
    'prefetch 100 and one `ack(last, allUpTo)`), and for Tidings `bus.subscribeBatch` with',
    '`batch: { maxSize: 100, maxWaitMs: 50 }`. Latency is publish start to handler, in milliseconds:',
    '"e2e-latency" sends events at a fixed rate well below what either side can sustain, "serial-latency"',
    'one at a time; a ratio below 1 means Tidings was faster. Latency runs on the raw lane the ratios',
    'divide by and on Tidings tuned.',
    '',
  );
  const brokers = [...new Set(results.map((r) => r.broker))].filter((b) => b in BROKERS);
  brokers.sort((a, b) => Object.keys(BROKERS).indexOf(a) - Object.keys(BROKERS).indexOf(b));
  for (const broker of brokers) lines.push(...brokerSection(results, broker));
  const outbox = results.filter((r) => r.broker.startsWith('postgres→'));
  if (outbox.length > 0) {
    lines.push(
      '## Outbox',
      '',
      'From a PostgreSQL outbox to each broker (docs/outbox.md explains the scenarios).',
      '',
      '| from → to | scenario | events/s | messages | bytes |',
      '| --- | --- | ---: | ---: | ---: |',
      ...outbox.map(
        (row) =>
          `| ${row.broker} | ${row.scenario} | ${number(row.msgsPerSec)} | ${number(row.messages)} | ${row.messageBytes} |`,
      ),
      '',
    );
  }
  lines.push(
    'Regenerate with `npm run bench` (under 20 minutes on 2 cores; `npm run bench -- --quick` for a smoke run',
    'that does not touch this page). The raw figures are in [bench/results/latest.json](../bench/results/latest.json).',
    '',
  );
  return lines.join('\n');
}

/** One bar of the chart. */
interface Bar {
  readonly label: string;
  readonly share: number;
  /** Whether the bar is good news: throughput at 0.9 of raw or more, latency at 1.1 of raw or less. */
  readonly good: boolean;
}

/**
 * Horizontal bars of Tidings over the raw lane it divides by: throughput of the default and tuned
 * lanes (higher is better), then p50 latency of the tuned lane (lower is better); in memory, the
 * pipeline over the bare adapter.
 */
export function renderChart(results: readonly BenchResult[]): string {
  const brokers = Object.keys(BROKERS).filter((broker) => results.some((r) => r.broker === broker));
  const bars = (
    scenarios: readonly string[],
    lanes: readonly string[],
    figure: (row: BenchResult) => number | null,
    good: (value: number) => boolean,
  ): Bar[] =>
    brokers.flatMap((broker) => {
      const baseline = baselineLane(results, broker);
      return scenarios.flatMap((scenario) =>
        lanes.flatMap((lane) => {
          const tidings = findRow(results, broker, scenario, 'tidings', lane);
          const raw = findRow(results, broker, scenario, 'raw', baseline);
          const value = share(tidings && figure(tidings), raw && figure(raw));
          return value === undefined
            ? []
            : [{ label: `${broker} · ${scenario} · ${lane}`, share: value, good: good(value) }];
        }),
      );
    });
  const bare = findRow(results, 'memory', 'pipeline', 'raw', 'raw');
  const zod = findRow(results, 'memory', 'pipeline-zod', 'tidings', 'tuned');
  const memoryShare = share(zod?.msgsPerSec, bare?.msgsPerSec);
  const sections: { title: string; bars: Bar[] }[] = [
    {
      title: 'Throughput, Tidings ÷ raw (higher is better)',
      bars: [
        ...(memoryShare === undefined
          ? []
          : [{ label: 'memory · pipeline-zod ÷ bare', share: memoryShare, good: memoryShare >= 0.9 }]),
        ...bars(
          THROUGHPUT,
          ['default', 'tuned'],
          (r) => r.msgsPerSec,
          (value) => value >= 0.9,
        ),
      ],
    },
    {
      title: 'p50 latency, Tidings tuned ÷ raw (lower is better)',
      bars: bars(
        LATENCY,
        ['tuned'],
        (r) => r.p50Ms,
        (value) => value <= 1.1,
      ),
    },
  ].filter((section) => section.bars.length > 0);

  const barHeight = 22;
  const gap = 8;
  const labelWidth = 300;
  const chartWidth = 420;
  const max = 2;
  const width = labelWidth + chartWidth + 80;
  const scale = (value: number): number => Math.min(max, value) * (chartWidth / max);
  const parts: string[] = [];
  let y = 0;
  for (const section of sections) {
    y += 30;
    parts.push(`<text x="${labelWidth}" y="${y}" font-weight="bold">${section.title}</text>`);
    y += 14;
    const top = y;
    for (const bar of section.bars) {
      parts.push(
        `<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end">${bar.label}</text>`,
        `<rect x="${labelWidth}" y="${y}" width="${scale(bar.share).toFixed(1)}" height="${barHeight}" fill="${bar.good ? '#2a7' : '#e90'}"/>`,
        `<text x="${labelWidth + scale(bar.share) + 6}" y="${y + 15}">${bar.share.toFixed(2)}</text>`,
      );
      y += barHeight + gap;
    }
    for (const mark of [0.5, 1, 1.5]) {
      const x = labelWidth + scale(mark);
      parts.push(
        `<line x1="${x}" y1="${top - 6}" x2="${x}" y2="${y}" stroke="${mark === 1 ? '#555' : '#bbb'}" stroke-dasharray="4 3"/>`,
        `<text x="${x}" y="${y + 14}" text-anchor="middle" fill="#555">${mark}</text>`,
      );
    }
    y += 20;
  }
  const height = y + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

export async function writeReport(results: readonly BenchResult[], machine: MachineInfo): Promise<void> {
  await writeFile(join(docs, 'benchmarks.md'), renderMarkdown(results, machine));
  await writeFile(join(docs, 'benchmarks.svg'), renderChart(results));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = JSON.parse(
    await readFile(join(docs, '..', 'bench', 'results', 'latest.json'), 'utf8'),
  ) as BenchResult[];
  const machine = JSON.parse(
    await readFile(join(docs, '..', 'bench', 'results', 'machine.json'), 'utf8'),
  ) as MachineInfo;
  await writeReport(results, machine);
}
