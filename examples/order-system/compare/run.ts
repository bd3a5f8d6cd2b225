// `npm run compare`: the experiment behind docs/sync-vs-events.md. It runs the same order workflow
// as a synchronous chain of HTTP calls, as the same chain with its calls sent as commands through
// RabbitMQ (request/reply), and as the Tidings example, against the same downstream services, and
// measures four things: latency and throughput with email normal, slow and down; throughput when
// the services have a capacity limit; CPU and connections per order at the same offered load; and,
// with five services and a fault schedule, how many customer requests fail.
//
//   npm run compare                      full run (about 20 minutes), writes docs/sync-vs-events.*
//   npm run compare -- --quick           smoke run (about 2 minutes): prints the tables, checks them
//   npm run compare -- --broker=nats     the events on another broker (RabbitMQ by default; the
//                                        command queue is always on RabbitMQ)
//   npm run compare -- --store=memory    orders and outbox in memory (PostgreSQL by default)
//   npm run compare -- --only=faults     one experiment (latency, capacity, compute, faults)
//   npm run compare -- --render          rewrite the report from the last full run's results.json
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BROKERS, type BrokerKind } from '../src/config';
import { brokerEnvironments, checkPostgres, DATABASE_URL, dropSchema } from '../test/support/environments';
import { renderCharts } from './charts';
import { checkResults } from './checks';
import type { DownstreamUrls } from './http-clients';
import { type Child, startChild } from './ipc';
import { customerOf, percentile, runLoad, runOpenLoop } from './load';
import { cpuSeconds, type Peers, samplePeak, sharedServiceCpu } from './meter';
import { renderMarkdown, renderTables } from './report';
import {
  type CapacityRecord,
  type ComputeRecord,
  type CpuSeconds,
  DESIGNS,
  type Environment,
  type ExperimentSettings,
  type FaultRecord,
  type Results,
  type RunRecord,
  SCENARIOS,
  type ScenarioId,
} from './results';
import {
  type DownstreamSettings,
  type DownstreamStats,
  SERVICES,
  type ServiceName,
  type ServiceSettings,
} from './services';
import type { Design, SutSettings, SutStats } from './system-under-test';

const EXPERIMENTS = ['latency', 'capacity', 'compute', 'faults'] as const;
type Experiment = (typeof EXPERIMENTS)[number];

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    broker: { type: 'string', default: 'rabbitmq' },
    store: { type: 'string', default: 'postgres' },
    only: { type: 'string' },
    render: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
if (!(BROKERS as readonly string[]).includes(args.broker)) {
  throw new Error(`--broker must be one of ${BROKERS.join(', ')}, got ${args.broker}`);
}
if (args.store !== 'postgres' && args.store !== 'memory') {
  throw new Error(`--store must be postgres or memory, got ${args.store}`);
}
const only = (args.only?.split(',') ?? EXPERIMENTS) as Experiment[];
for (const name of only) {
  if (!(EXPERIMENTS as readonly string[]).includes(name)) {
    throw new Error(`--only takes ${EXPERIMENTS.join(', ')}, got ${name}`);
  }
}
const broker = args.broker as BrokerKind;
const database = args.store === 'postgres';
// The same connection settings, checks and clean-up as the end-to-end tests.
const brokerEnvironment = brokerEnvironments[broker];
const rabbitmq = brokerEnvironments.rabbitmq;
const RABBITMQ_URL = rabbitmq.config('x').url ?? 'amqp://guest:guest@127.0.0.1:5672';
const quick = args.quick;
// On a real broker the consumers run in a process of their own, as deployed; the in-memory broker
// lives in one process, so there they share the order service's.
const consumersApart = broker !== 'memory';

// The latency experiment: four load levels, ten seconds each. The quick run keeps one level per
// situation, so that CI sees every code path in about two minutes.
const latencyPlan: Readonly<Record<ScenarioId, readonly number[]>> = quick
  ? { normal: [1], slow: [10], down: [10] }
  : { normal: [1, 10, 50, 100], slow: [1, 10, 50, 100], down: [1, 10, 50, 100] };
const durationMs = quick ? 2_000 : 10_000;
const warmUpMs = quick ? 300 : 2_000;
// How long to wait, after a window, for the event-driven side's background work to drain; past
// it, the drain time is estimated from the pace kept while waiting.
const drainCapMs = quick ? 6_000 : 20_000;
// Each consumer handles this many events at once (and each worker this many commands per service):
// as many as the largest number of users, so that a service never sees more concurrent calls from
// the consumer than from the chain.
const consumerConcurrency = 100;
// Short retries, so that with email down every confirmation reaches the dead-letter topic within
// a few seconds of the window (4 attempts: about 0.25 + 0.5 + 1 s of back-off).
const retry = { maxAttempts: 4, initialDelayMs: 250, maxDelayMs: 2_000 };

const LATENCY_MS: Readonly<Record<ServiceName, number>> = {
  payment: 300,
  inventory: 200,
  email: 400,
  analytics: 150,
  warehouse: 250,
};
const plain = (latencies: Readonly<Record<ServiceName, number>>): Record<ServiceName, ServiceSettings> =>
  Object.fromEntries(SERVICES.map((s) => [s, { latencyMs: latencies[s] }])) as Record<
    ServiceName,
    ServiceSettings
  >;

const experiments: ExperimentSettings = {
  latencyMs: LATENCY_MS,
  // Capacities: payment and inventory take 100 orders a second, email 25 and analytics 67. The
  // chain can go no faster than email; the event-driven order service no faster than payment.
  capacity: {
    services: {
      payment: { latencyMs: 300, capacity: 30 },
      inventory: { latencyMs: 200, capacity: 20 },
      email: { latencyMs: 400, capacity: 10 },
      analytics: { latencyMs: 150, capacity: 10 },
      warehouse: { latencyMs: 250 },
    },
    users: quick ? [50] : [10, 25, 50, 100],
  },
  compute: { ratesPerSecond: quick ? [20] : [20, 60] },
  // The fault schedule: the services a customer need not wait for (an email provider, an
  // analytics endpoint, a warehouse system) are the flaky ones, as they tend to be; payment and
  // inventory fail rarely. Stalls outlast the customer's deadline.
  faults: {
    services: {
      payment: { latencyMs: 300, failShare: 0.01, stallShare: 0.01, stallMs: 5_000 },
      inventory: { latencyMs: 200, failShare: 0.01 },
      email: { latencyMs: 400, failShare: 0.1, stallShare: 0.02, stallMs: 5_000 },
      analytics: { latencyMs: 150, failShare: 0.05 },
      warehouse: { latencyMs: 250, failShare: 0.05, stallShare: 0.02, stallMs: 5_000 },
    },
    ratePerSecond: 15,
    deadlineMs: 2_500,
    faultsDurationMs: quick ? 3_000 : 30_000,
    healthyDurationMs: quick ? 0 : 20_000,
  },
  prefetch: consumerConcurrency,
};

const latencyDownstream = (scenario: ScenarioId): DownstreamSettings => ({
  services: {
    ...plain(LATENCY_MS),
    email:
      scenario === 'slow'
        ? { latencyMs: 3_000 }
        : scenario === 'down'
          ? { latencyMs: 0, failShare: 1 }
          : { latencyMs: 400 },
  },
});

let measurements = 0;
let namespace = '';
// The namespaces used so far: their queues are deleted at the end, with one listing of the broker
// (rabbitmqctl takes seconds per call, which would be minutes over a run).
const used: string[] = [];

/** A design, deployed: the order service, and its consumers or workers when they run apart. */
interface Deployed {
  readonly url: string;
  readonly api: Child;
  readonly helper?: Child;
  stats(): Promise<SutStats>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

async function deploy(design: Design, urls: DownstreamUrls, fiveServices: boolean): Promise<Deployed> {
  // A fresh process and fresh topics per measurement: no backlog, no warm caches from the last one.
  // Short names: the prefix appears twice in a dead-letter topic, and RabbitMQ allows 200 bytes.
  const isolated = `${namespace}_${++measurements}`;
  used.push(isolated);
  const settings = (role: SutSettings['role']): SutSettings => ({
    design,
    role,
    together: design === 'events' && !consumersApart,
    urls,
    fiveServices,
    broker: brokerEnvironment.config(isolated),
    rabbitmqUrl: RABBITMQ_URL,
    topicPrefix: `${isolated}.`,
    ...(database ? { database: { url: DATABASE_URL, schema: isolated } } : {}),
    consumerConcurrency,
    retry,
    commandTimeoutMs: 30_000,
  });
  const helperRole: SutSettings['role'] | undefined =
    design === 'rpc' ? 'workers' : design === 'events' && consumersApart ? 'consumers' : undefined;
  // Both processes boot at once (loading TypeScript takes a while); they start one after the other.
  const api = startChild('./system-under-test.ts');
  const helper = helperRole === undefined ? undefined : startChild('./system-under-test.ts');
  const children = helper === undefined ? [api] : [api, helper];
  const cleanup = async (): Promise<void> => {
    // The order service first: it hands what its outbox holds to the broker before it goes.
    for (const child of children) await child.stop();
    if (database) await dropSchema(isolated);
  };
  try {
    const url = await api.request<string>('start', settings('api'));
    // After the order service: both create the same tables, which PostgreSQL does not like at once.
    if (helper !== undefined && helperRole !== undefined) await helper.request('start', settings(helperRole));
    return {
      url,
      api,
      ...(helper === undefined ? {} : { helper }),
      async stats() {
        const all = await Promise.all(children.map((child) => child.request<SutStats>('stats')));
        const sum = {} as Record<keyof SutStats, number>;
        for (const stats of all) {
          for (const key of Object.keys(stats) as (keyof SutStats)[]) sum[key] = (sum[key] ?? 0) + stats[key];
        }
        return sum;
      },
      async reset() {
        await Promise.all(children.map((child) => child.request('reset')));
      },
      stop: cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** How the event-driven side's background work drained after a window. */
interface Drain {
  readonly drained: boolean;
  /** Measured when drained; otherwise estimated from the pace kept while waiting. */
  readonly ms: number;
  readonly stats: SutStats;
}

// Background work not done yet: per consumer group, the placed orders it has neither handled nor
// dead-lettered. The analytics group also tracks shipments; only its `order placed` count here.
function pending(stats: SutStats, fiveServices: boolean): number {
  const left = (settled: number): number => Math.max(0, stats.placed - settled);
  return (
    left(stats.emailsSent + stats.emailsDeadLettered) +
    left(stats.analyticsTracked + stats.analyticsDeadLettered) +
    (fiveServices ? left(stats.shipmentsPrepared + stats.shipmentsDeadLettered) : 0)
  );
}

// Waits until every placed order's background work was done or dead-lettered, or the cap. A
// benchmark may poll; a test would wait on an event.
async function waitForDrain(system: Deployed, fiveServices: boolean, capMs: number): Promise<Drain> {
  const started = performance.now();
  const first = pending(await system.stats(), fiveServices);
  for (;;) {
    const stats = await system.stats();
    const elapsed = performance.now() - started;
    const left = pending(stats, fiveServices);
    if (left <= 0) return { drained: true, ms: elapsed, stats };
    if (elapsed > capMs) {
      const pace = (first - left) / elapsed;
      return { drained: false, ms: pace > 0 ? elapsed + left / pace : Number.POSITIVE_INFINITY, stats };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// Warm up (JIT, connection pools), then let what the warm-up queued drain, and start counting.
async function warmUp(
  system: Deployed,
  downstream: Child,
  users: number,
  fiveServices: boolean,
): Promise<void> {
  await runLoad({ url: system.url, users: Math.min(users, 10), durationMs: warmUpMs });
  await waitForDrain(system, fiveServices, drainCapMs);
  await Promise.all([system.reset(), downstream.request('reset')]);
}

function fmt(ms: number): string {
  return Number.isNaN(ms) ? '-' : ms.toFixed(0);
}

async function measureLatency(
  scenario: ScenarioId,
  system: 'sync' | 'events',
  users: number,
  downstream: Child,
  urls: DownstreamUrls,
): Promise<RunRecord> {
  const deployed = await deploy(system, urls, false);
  try {
    await warmUp(deployed, downstream, users, false);
    const load = await runLoad({ url: deployed.url, users, durationMs });
    let atEnd: SutStats | undefined;
    let drain: Drain | undefined;
    if (system === 'events') {
      atEnd = await deployed.stats();
      drain = await waitForDrain(deployed, false, drainCapMs);
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
            // Not draining at all (nothing done while waiting) has no finite estimate.
            ...(Number.isFinite(drain.ms) ? { drainMs: drain.ms } : {}),
            drainMeasured: drain.drained,
            emailsDeadLettered: drain.stats.emailsDeadLettered,
            emailFailures: drain.stats.emailFailures,
          }),
      emailsSent: seen.emailsSent,
    };
    console.log(
      `latency  ${scenario.padEnd(6)} ${system.padEnd(6)} ${String(users).padStart(3)} users: ` +
        `p50 ${fmt(record.p50Ms)} ms, p99 ${fmt(record.p99Ms)} ms, ${record.okPerSecond.toFixed(1)} ok/s, ` +
        `${record.errors} errors` +
        (record.emailBacklogAtEnd === undefined ? '' : `, email backlog ${record.emailBacklogAtEnd}`) +
        (record.emailsDeadLettered === undefined ? '' : `, dead-lettered ${record.emailsDeadLettered}`),
    );
    return record;
  } finally {
    await deployed.stop();
  }
}

async function measureCapacity(
  design: Design,
  users: number,
  downstream: Child,
  urls: DownstreamUrls,
): Promise<CapacityRecord> {
  const deployed = await deploy(design, urls, false);
  try {
    await warmUp(deployed, downstream, users, false);
    const load = await runLoad({ url: deployed.url, users, durationMs });
    const seen = await downstream.request<DownstreamStats>('stats');
    let backlog: Pick<CapacityRecord, 'emailBacklogAtEnd' | 'drainMs' | 'drainMeasured'> = {};
    if (design === 'events') {
      const atEnd = await deployed.stats();
      const drain = await waitForDrain(deployed, false, drainCapMs);
      backlog = {
        emailBacklogAtEnd: atEnd.placed - atEnd.emailsSent - atEnd.emailsDeadLettered,
        ...(Number.isFinite(drain.ms) ? { drainMs: drain.ms } : {}),
        drainMeasured: drain.drained,
      };
    }
    const record: CapacityRecord = {
      design,
      users,
      requests: load.ok + load.errors,
      ok: load.ok,
      p50Ms: percentile(load.latenciesMs, 50),
      p99Ms: percentile(load.latenciesMs, 99),
      okPerSecond: load.ok / (load.durationMs / 1000),
      services: seen.services,
      ...backlog,
    };
    console.log(
      `capacity ${design.padEnd(6)} ${String(users).padStart(3)} users: p50 ${fmt(record.p50Ms)} ms, ` +
        `p99 ${fmt(record.p99Ms)} ms, ${record.okPerSecond.toFixed(1)} ok/s, ` +
        `email queue peak ${seen.services.email.peakWaiting}` +
        (record.emailBacklogAtEnd === undefined ? '' : `, email backlog ${record.emailBacklogAtEnd}`),
    );
    return record;
  } finally {
    await deployed.stop();
  }
}

async function measureCompute(
  design: Design,
  ratePerSecond: number,
  downstream: Child,
  urls: DownstreamUrls,
  peers: Peers,
): Promise<ComputeRecord> {
  const deployed = await deploy(design, urls, false);
  try {
    await warmUp(deployed, downstream, 10, false);
    const pids = [deployed.api.pid, ...(deployed.helper === undefined ? [] : [deployed.helper.pid])];
    const cpuNow = (): CpuSeconds => {
      const shared = sharedServiceCpu();
      return {
        orderService: cpuSeconds(deployed.api.pid),
        ...(deployed.helper === undefined ? {} : { helper: cpuSeconds(deployed.helper.pid) }),
        downstream: cpuSeconds(downstream.pid),
        ...shared,
      };
    };
    const before = cpuNow();
    const started = performance.now();
    const sampler = samplePeak(pids, peers);
    const load = await runOpenLoop({
      url: deployed.url,
      ratePerSecond,
      durationMs,
      deadlineMs: 30_000,
      tag: `c${ratePerSecond}`,
    });
    // The orders' background work is part of their cost: count until it is done.
    if (design === 'events') await waitForDrain(deployed, false, drainCapMs);
    const peak = sampler.stop();
    const after = cpuNow();
    const spanMs = performance.now() - started;
    const delta = (key: keyof CpuSeconds): number | undefined => {
      const a = after[key];
      const b = before[key];
      return a === undefined || b === undefined ? undefined : a - b;
    };
    const cpu: CpuSeconds = {
      orderService: delta('orderService') ?? 0,
      downstream: delta('downstream') ?? 0,
      ...(delta('helper') === undefined ? {} : { helper: delta('helper')! }),
      ...(delta('rabbitmq') === undefined ? {} : { rabbitmq: delta('rabbitmq')! }),
      ...(delta('postgres') === undefined ? {} : { postgres: delta('postgres')! }),
    };
    const record: ComputeRecord = {
      design,
      ratePerSecond,
      offered: load.offered,
      ok: load.ok,
      p50Ms: percentile(load.latenciesMs, 50),
      p99Ms: percentile(load.latenciesMs, 99),
      spanMs,
      cpu,
      sockets: peak.sockets,
      rssMiB: peak.rssMiB,
    };
    const own = (cpu.orderService + (cpu.helper ?? 0)) / Math.max(1, load.ok);
    console.log(
      `compute  ${design.padEnd(6)} ${String(ratePerSecond).padStart(3)}/s: ${load.ok}/${load.offered} ok, ` +
        `p99 ${fmt(record.p99Ms)} ms, ${(own * 1000).toFixed(2)} CPU ms per order (own processes), ` +
        `${Object.values(peak.sockets).reduce((a, b) => a + b, 0)} connections at peak`,
    );
    return record;
  } finally {
    await deployed.stop();
  }
}

async function measureFaults(
  design: Design,
  schedule: 'healthy' | 'faults',
  downstream: Child,
  urls: DownstreamUrls,
): Promise<FaultRecord> {
  const { ratePerSecond, deadlineMs } = experiments.faults;
  const window =
    schedule === 'faults' ? experiments.faults.faultsDurationMs : experiments.faults.healthyDurationMs;
  const deployed = await deploy(design, urls, true);
  try {
    await warmUp(deployed, downstream, 10, true);
    // The same customers in every design, so that the fault schedule hits the same orders.
    const tag = schedule === 'faults' ? 'f' : 'h';
    const load = await runOpenLoop({ url: deployed.url, ratePerSecond, durationMs: window, deadlineMs, tag });
    let background: FaultRecord['background'];
    if (design === 'events') {
      const drain = await waitForDrain(deployed, true, drainCapMs);
      const s = drain.stats;
      background = {
        placed: s.placed,
        done:
          Math.min(s.placed, s.emailsSent) +
          Math.min(s.placed, s.analyticsTracked) +
          Math.min(s.placed, s.shipmentsPrepared),
        deadLettered: s.emailsDeadLettered + s.analyticsDeadLettered + s.shipmentsDeadLettered,
        drained: drain.drained,
      };
    }
    const seen = await downstream.request<DownstreamStats>('stats');
    const faulted = new Set(seen.faultedCustomers);
    let faultedCount = 0;
    let faultedFailed = 0;
    let unfaultedFailed = 0;
    for (let n = 0; n < load.offered; n++) {
      const customer = customerOf(tag, n);
      const failed = load.outcomes[customer] !== 'ok';
      if (faulted.has(customer)) {
        faultedCount++;
        if (failed) faultedFailed++;
      } else if (failed) unfaultedFailed++;
    }
    const record: FaultRecord = {
      design,
      schedule,
      ratePerSecond,
      offered: load.offered,
      ok: load.ok,
      errors: load.errors,
      late: load.late,
      p50Ms: percentile(load.latenciesMs, 50),
      p99Ms: percentile(load.latenciesMs, 99),
      faulted: faultedCount,
      faultedFailed,
      unfaultedFailed,
      services: Object.fromEntries(
        SERVICES.map((s) => [
          s,
          {
            calls: seen.services[s].calls,
            failed: seen.services[s].failed,
            stalled: seen.services[s].stalled,
          },
        ]),
      ) as FaultRecord['services'],
      ...(background === undefined ? {} : { background }),
    };
    console.log(
      `${schedule.padEnd(8)} ${design.padEnd(6)} ${ratePerSecond}/s: ${load.ok}/${load.offered} ok, ` +
        `${load.errors} errors, ${load.late} late, p50 ${fmt(record.p50Ms)} ms, p99 ${fmt(record.p99Ms)} ms; ` +
        `${faultedCount} orders met a fault, ${faultedFailed} of them failed the customer` +
        (background === undefined
          ? ''
          : `; background ${background.done} done, ${background.deadLettered} dead-lettered`),
    );
    return record;
  } finally {
    await deployed.stop();
  }
}

/** Runs `body` with the downstream services started in their own process under `settings`. */
async function withDownstream<T>(
  settings: DownstreamSettings,
  body: (downstream: Child, urls: DownstreamUrls) => Promise<T>,
): Promise<T> {
  const downstream = startChild('./downstream.ts');
  try {
    const urls = await downstream.request<DownstreamUrls>('start', settings);
    return await body(downstream, urls);
  } finally {
    await downstream.stop();
  }
}

const port = (url: string): number => Number(new URL(url).port);

// The last full run's measurements, kept beside the runner so that the report can be re-rendered.
const RESULTS = fileURLToPath(new URL('./results.json', import.meta.url));

async function writeReport(results: Results, outDir: string): Promise<void> {
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'sync-vs-events.md'), renderMarkdown(results));
  const charts = renderCharts(results);
  for (const [name, svg] of Object.entries(charts)) await writeFile(join(outDir, name), svg);
  console.log(`wrote ${join(outDir, 'sync-vs-events.md')} and ${Object.keys(charts).join(', ')}`);
}

async function main(): Promise<void> {
  const docs = args.out ?? fileURLToPath(new URL('../../../docs/', import.meta.url));
  if (args.render) {
    await writeReport(JSON.parse(await readFile(RESULTS, 'utf8')) as Results, docs);
    return;
  }
  const started = performance.now();
  await brokerEnvironment.check();
  const runsRpc = only.some((e) => e !== 'latency');
  if (runsRpc && broker !== 'rabbitmq') await rabbitmq.check();
  if (database) await checkPostgres();
  namespace = `cmp${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const environment: Environment = {
    broker,
    store: database ? 'PostgreSQL (orders, outbox and inbox in one schema)' : 'memory (in-memory outbox)',
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
    consumersApart,
    experiments,
  };
  console.log(
    `comparing the sync chain, the command queue and Tidings on ${broker}${quick ? ' (quick)' : ''}; ` +
      `${durationMs / 1000} s per level; load average ${environment.loadBefore.toFixed(2)} on ${environment.cpus} CPUs`,
  );

  const records: RunRecord[] = [];
  const capacity: CapacityRecord[] = [];
  const compute: ComputeRecord[] = [];
  const faults: FaultRecord[] = [];
  try {
    if (only.includes('latency')) {
      for (const scenario of SCENARIOS) {
        await withDownstream(latencyDownstream(scenario.id), async (downstream, urls) => {
          for (const users of latencyPlan[scenario.id]) {
            for (const system of ['sync', 'events'] as const) {
              records.push(await measureLatency(scenario.id, system, users, downstream, urls));
            }
          }
        });
      }
    }
    if (only.includes('capacity')) {
      await withDownstream({ services: experiments.capacity.services }, async (downstream, urls) => {
        for (const users of experiments.capacity.users) {
          for (const design of DESIGNS) capacity.push(await measureCapacity(design, users, downstream, urls));
        }
      });
    }
    if (only.includes('compute')) {
      await withDownstream({ services: plain(LATENCY_MS) }, async (downstream, urls) => {
        const peers: Peers = {
          downstreamPorts: Object.values(urls).map(port),
          brokerPorts: [port(RABBITMQ_URL), 4222, 6379, 9092],
          databasePorts: [port(DATABASE_URL)],
        };
        for (const rate of experiments.compute.ratesPerSecond) {
          for (const design of DESIGNS)
            compute.push(await measureCompute(design, rate, downstream, urls, peers));
        }
      });
    }
    if (only.includes('faults')) {
      const schedules =
        experiments.faults.healthyDurationMs > 0 ? (['healthy', 'faults'] as const) : (['faults'] as const);
      for (const schedule of schedules) {
        const services = schedule === 'faults' ? experiments.faults.services : plain(LATENCY_MS);
        await withDownstream({ services, faultSeed: 'issue-23' }, async (downstream, urls) => {
          for (const design of DESIGNS) faults.push(await measureFaults(design, schedule, downstream, urls));
        });
      }
    }
  } finally {
    await brokerEnvironment.cleanup(...used);
    if (broker !== 'rabbitmq' && runsRpc) await rabbitmq.cleanup(...used);
  }

  const results: Results = {
    environment: { ...environment, loadAfter: loadavg()[0] ?? 0, totalMs: performance.now() - started },
    records,
    capacity,
    compute,
    faults,
  };
  console.log('');
  console.log(renderTables(results));
  const problems = checkResults(results);
  if (quick && args.out === undefined) {
    console.log('\n(quick run: nothing written; the full run writes docs/sync-vs-events.md and its charts)');
  } else {
    if (!quick && only.length === EXPERIMENTS.length) {
      await writeFile(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
    }
    await writeReport(results, docs);
  }
  console.log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  if (problems.length > 0) {
    console.error(`\nthe run does not check out (${problems.length}):\n  ${problems.join('\n  ')}`);
    process.exitCode = 1;
  } else {
    console.log('self-check: every expectation of the run holds');
  }
}

await main();
