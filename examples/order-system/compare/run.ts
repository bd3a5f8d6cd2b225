// `npm run compare`: the experiment behind docs/sync-vs-events.md. It runs the same order workflow
// twice, as a synchronous chain of HTTP calls and as the Tidings example, against the same
// downstream services, under the same closed-loop load, in three situations (email normal, slow,
// down), and writes the report and its chart.
//
//   npm run compare                      full run (about 8 minutes), writes docs/sync-vs-events.{md,svg}
//   npm run compare -- --quick           smoke run (under a minute), prints the table only
//   npm run compare -- --broker=rabbitmq the event-driven side on a real broker (memory by default)
//   npm run compare -- --database        orders (and the outbox) in PostgreSQL, on both sides
//   npm run compare -- --render          rewrite the report from the last full run's results.json
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BROKERS, type BrokerKind } from '../src/config';
import { brokerEnvironments, checkPostgres, DATABASE_URL, dropSchema } from '../test/support/environments';
import type { DownstreamSettings, DownstreamStats } from './downstream';
import type { DownstreamUrls } from './http-clients';
import { type Child, startChild } from './ipc';
import { percentile, runLoad } from './load';
import {
  type Environment,
  type RunRecord,
  renderMarkdown,
  renderSvg,
  renderTable,
  SCENARIOS,
  type ScenarioId,
} from './report';
import type { SutSettings, SutStats } from './system-under-test';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    broker: { type: 'string', default: 'memory' },
    database: { type: 'boolean', default: false },
    render: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
if (!(BROKERS as readonly string[]).includes(args.broker)) {
  throw new Error(`--broker must be one of ${BROKERS.join(', ')}, got ${args.broker}`);
}
const broker = args.broker as BrokerKind;
// The same connection settings, checks and clean-up as the end-to-end tests.
const brokerEnvironment = brokerEnvironments[broker];
const quick = args.quick;

// The full run: four load levels, ten seconds each. The quick run keeps one level per situation
// but the first, so that CI sees every code path in under a minute.
const plan: Readonly<Record<ScenarioId, readonly number[]>> = quick
  ? { normal: [1, 10], slow: [10], down: [10] }
  : { normal: [1, 10, 50, 100], slow: [1, 10, 50, 100], down: [1, 10, 50, 100] };
const durationMs = quick ? 2_000 : 10_000;
const warmUpMs = quick ? 300 : 2_000;
// How long to wait, after a window, for the event-driven side's email backlog to drain; past it,
// the drain time is estimated from the pace kept while waiting.
const drainCapMs = quick ? 8_000 : 20_000;
// Each consumer handles this many events at once: as many as the largest number of users, so the
// email service never sees more concurrent calls from the consumer than from the chain.
const consumerConcurrency = 100;
// Short retries, so that with email down every confirmation reaches the dead-letter topic within
// a few seconds of the window (4 attempts: about 0.25 + 0.5 + 1 s of back-off).
const retry = { maxAttempts: 4, initialDelayMs: 250, maxDelayMs: 2_000 };

const downstreamSettings = (scenario: ScenarioId): DownstreamSettings => ({
  paymentMs: 300,
  inventoryMs: 200,
  emailMs: scenario === 'slow' ? 3_000 : 400,
  emailDown: scenario === 'down',
  analyticsMs: 150,
});

async function measure(
  scenario: ScenarioId,
  system: 'sync' | 'events',
  users: number,
  downstream: Child,
  urls: DownstreamUrls,
  namespace: string,
): Promise<RunRecord> {
  // A fresh process and fresh topics per measurement: no backlog, no warm caches from the last one.
  // Short names: the prefix appears twice in a dead-letter topic, and RabbitMQ allows 200 bytes.
  const isolated = `${namespace}_${++measurements}`;
  const sut = startChild('./system-under-test.ts');
  try {
    const settings: SutSettings = {
      mode: system,
      urls,
      broker: brokerEnvironment.config(isolated),
      topicPrefix: `${isolated}.`,
      ...(args.database ? { database: { url: DATABASE_URL, schema: isolated } } : {}),
      consumerConcurrency,
      retry,
    };
    const url = await sut.request<string>('start', settings);
    // Warm up (JIT, connection pools), then let what the warm-up queued drain before measuring.
    await runLoad({ url, users: Math.min(users, 10), durationMs: warmUpMs });
    if (system === 'events') await waitForDrain(sut, drainCapMs);
    await Promise.all([sut.request('reset'), downstream.request('reset')]);

    const load = await runLoad({ url, users, durationMs });
    let atEnd: SutStats | undefined;
    let drain: Drain | undefined;
    if (system === 'events') {
      atEnd = await sut.request<SutStats>('stats');
      drain = await waitForDrain(sut, drainCapMs);
    }
    const seen = await downstream.request<DownstreamStats>('stats');
    const record: RunRecord = {
      scenario,
      system,
      users,
      requests: load.ok + load.errors,
      ok: load.ok,
      errors: load.errors,
      p50Ms: percentile(load.latenciesMs, 50),
      p99Ms: percentile(load.latenciesMs, 99),
      okPerSecond: load.ok / (load.durationMs / 1000),
      ...(atEnd === undefined || drain === undefined
        ? {}
        : {
            emailBacklogAtEnd: atEnd.placed - atEnd.emailsSent - atEnd.emailsDeadLettered,
            // Not draining at all (no email went out while waiting) has no finite estimate.
            ...(Number.isFinite(drain.ms) ? { drainMs: drain.ms } : {}),
            drainMeasured: drain.drained,
            emailsDeadLettered: drain.stats.emailsDeadLettered,
            emailFailures: drain.stats.emailFailures,
          }),
      emailsSent: seen.emailsSent,
    };
    console.log(
      `${scenario.padEnd(6)} ${system.padEnd(6)} ${String(users).padStart(3)} users: ` +
        `p50 ${fmt(record.p50Ms)} ms, p99 ${fmt(record.p99Ms)} ms, ${record.okPerSecond.toFixed(1)} ok/s, ` +
        `${record.errors} errors` +
        (record.emailBacklogAtEnd === undefined ? '' : `, email backlog ${record.emailBacklogAtEnd}`) +
        (record.emailsDeadLettered === undefined ? '' : `, dead-lettered ${record.emailsDeadLettered}`),
    );
    return record;
  } finally {
    await sut.stop();
    await brokerEnvironment.cleanup(isolated);
    if (args.database) await dropSchema(isolated);
  }
}

let measurements = 0;

/** How the email backlog drained after a window. */
interface Drain {
  readonly drained: boolean;
  /** Measured when drained; otherwise estimated from the pace kept while waiting. */
  readonly ms: number;
  readonly stats: SutStats;
}

// Waits until every placed order's email was sent or dead-lettered, or the cap. A benchmark may
// poll; a test would wait on an event.
async function waitForDrain(sut: Child, capMs: number): Promise<Drain> {
  const started = performance.now();
  const first = await sut.request<SutStats>('stats');
  const settled = (stats: SutStats): number => stats.emailsSent + stats.emailsDeadLettered;
  for (;;) {
    const stats = await sut.request<SutStats>('stats');
    const elapsed = performance.now() - started;
    const left = stats.placed - settled(stats);
    if (left <= 0) return { drained: true, ms: elapsed, stats };
    if (elapsed > capMs) {
      const pace = (settled(stats) - settled(first)) / elapsed;
      return { drained: false, ms: pace > 0 ? elapsed + left / pace : Number.POSITIVE_INFINITY, stats };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function fmt(ms: number): string {
  return Number.isNaN(ms) ? '-' : ms.toFixed(0);
}

// The last full run's measurements, kept beside the runner so that the report can be re-rendered.
const RESULTS = fileURLToPath(new URL('./results.json', import.meta.url));

async function writeReport(
  records: readonly RunRecord[],
  environment: Environment,
  outDir: string,
): Promise<void> {
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'sync-vs-events.md'), renderMarkdown(records, environment));
  await writeFile(join(outDir, 'sync-vs-events.svg'), renderSvg(records));
  console.log(`wrote ${join(outDir, 'sync-vs-events.md')} and sync-vs-events.svg`);
}

async function main(): Promise<void> {
  const docs = args.out ?? fileURLToPath(new URL('../../../docs/', import.meta.url));
  if (args.render) {
    const saved = JSON.parse(await readFile(RESULTS, 'utf8')) as {
      environment: Environment;
      records: RunRecord[];
    };
    await writeReport(saved.records, saved.environment, docs);
    return;
  }
  const started = performance.now();
  await brokerEnvironment.check();
  if (args.database) await checkPostgres();
  const namespace = `cmp${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const environment: Environment = {
    broker,
    store: args.database
      ? 'PostgreSQL (orders, outbox and inbox in one schema)'
      : 'memory (in-memory outbox)',
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    loadBefore: loadavg()[0] ?? 0,
    loadAfter: 0,
    durationMs,
    quick,
    date: new Date().toISOString().slice(0, 10),
    consumerConcurrency,
    retry,
  };
  console.log(
    `comparing sync chain and event-driven on ${broker}${quick ? ' (quick)' : ''}; ` +
      `${durationMs / 1000} s per level; load average ${environment.loadBefore.toFixed(2)} on ${environment.cpus} CPUs`,
  );

  const records: RunRecord[] = [];
  for (const scenario of SCENARIOS) {
    const downstream = startChild('./downstream.ts');
    try {
      const urls = await downstream.request<DownstreamUrls>('start', downstreamSettings(scenario.id));
      for (const users of plan[scenario.id]) {
        for (const system of ['sync', 'events'] as const) {
          records.push(await measure(scenario.id, system, users, downstream, urls, namespace));
        }
      }
    } finally {
      await downstream.stop();
    }
  }
  const finished: Environment = {
    ...environment,
    loadAfter: loadavg()[0] ?? 0,
    totalMs: performance.now() - started,
  };

  console.log('');
  console.log(renderTable(records));
  if (quick && args.out === undefined) {
    console.log('\n(quick run: nothing written; the full run writes docs/sync-vs-events.md and .svg)');
  } else {
    if (!quick) await writeFile(RESULTS, `${JSON.stringify({ environment: finished, records }, null, 2)}\n`);
    await writeReport(records, finished, docs);
  }
  console.log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

await main();
