// The report's second and third parts: capacity-limited services (where each design saturates,
// and where the waiting goes), and compute and connections per order at the same offered load.

import { type ClaimRow, count, markdownTable, ms, pct, rate, readRatio, times } from './format';
import {
  type CapacityRecord,
  type ComputeRecord,
  DESIGN_TITLES,
  DESIGNS,
  type Environment,
  type ExperimentSettings,
} from './results';
import { SERVICES, type ServiceName, type ServiceSettings } from './services';
import type { Design } from './system-under-test';

/** Orders a second a service can take: its capacity over its latency. */
export function ceiling(service: ServiceSettings): number {
  return service.capacity === undefined
    ? Number.POSITIVE_INFINITY
    : service.capacity / (service.latencyMs / 1000);
}

/** The arithmetic of the capacity experiment: what each design can take, by its slowest step. */
export function capacityArithmetic(services: Readonly<Record<ServiceName, ServiceSettings>>): {
  readonly chain: number;
  readonly requestPath: number;
  readonly email: number;
} {
  const chain = Math.min(
    ...(['payment', 'inventory', 'email', 'analytics'] as const).map((s) => ceiling(services[s])),
  );
  const requestPath = Math.min(ceiling(services.payment), ceiling(services.inventory));
  return { chain, requestPath, email: ceiling(services.email) };
}

function drainCell(record: CapacityRecord): string {
  if (record.design !== 'events') return '–';
  if (record.drainMeasured === true) return ms(record.drainMs);
  return record.drainMs === undefined ? 'not draining' : `≈ ${ms(record.drainMs)} (est.)`;
}

/** The capacity experiment as a Markdown table. */
export function renderCapacityTable(
  records: readonly CapacityRecord[],
  settings: ExperimentSettings,
): string {
  const arithmetic = capacityArithmetic(settings.capacity.services);
  const rows = [...records]
    .sort((a, b) => a.users - b.users || DESIGNS.indexOf(a.design) - DESIGNS.indexOf(b.design))
    .map((r) => {
      const cap = r.design === 'events' ? arithmetic.requestPath : arithmetic.chain;
      return [
        String(r.users),
        DESIGN_TITLES[r.design],
        rate(r.okPerSecond),
        `${rate(Math.min(cap, r.users / ((r.design === 'events' ? 500 : 1_050) / 1000)))}`,
        ms(r.p50Ms),
        ms(r.p99Ms),
        count(r.services.payment.peakWaiting),
        count(r.services.email.peakWaiting),
        pct(r.services.email.utilization, 1, 0),
        r.design === 'events' ? count(r.emailBacklogAtEnd) : '–',
        drainCell(r),
      ];
    });
  return markdownTable(
    [
      'users',
      'design',
      'ok orders/s',
      'arithmetic ceiling',
      'p50 ms',
      'p99 ms',
      'waiting at payment (peak)',
      'waiting at email (peak)',
      'email busy',
      'email backlog at end',
      'drained in ms',
    ],
    [true, false, true, true, true, true, true, true, true, true, true],
    rows,
  );
}

const top = <T extends { readonly okPerSecond: number }>(records: readonly T[]): T | undefined =>
  [...records].sort((a, b) => b.okPerSecond - a.okPerSecond)[0];

/** The capacity part of the report, and its rows of the closing table. */
export function capacitySection(
  records: readonly CapacityRecord[],
  env: Environment,
  settings: ExperimentSettings,
): { readonly markdown: string; readonly claims: readonly ClaimRow[] } {
  const services = settings.capacity.services;
  const arithmetic = capacityArithmetic(services);
  const levels = [...new Set(records.map((r) => r.users))].sort((a, b) => a - b);
  const highest = levels.at(-1) ?? settings.capacity.users.at(-1) ?? 0;
  const at = (design: Design, users: number) => records.find((r) => r.design === design && r.users === users);
  const best = (design: Design) => top(records.filter((r) => r.design === design));
  const syncTop = at('sync', highest);
  const eventsTop = at('events', highest);
  const rpcTop = at('rpc', highest);
  const bestSync = best('sync');
  const bestEvents = best('events');
  const bestRpc = best('rpc');
  const p99Ratio = syncTop && eventsTop ? syncTop.p99Ms / eventsTop.p99Ms : undefined;
  const throughputRatio = bestSync && bestEvents ? bestEvents.okPerSecond / bestSync.okPerSecond : undefined;

  const settingsTable = markdownTable(
    ['service', 'latency ms', 'requests at once', 'queue in front', 'orders/s at most'],
    [false, true, true, false, true],
    SERVICES.filter((s) => s !== 'warehouse').map((s) => [
      s,
      ms(services[s].latencyMs),
      services[s].capacity === undefined ? 'no limit' : String(services[s].capacity),
      'FIFO, unbounded',
      Number.isFinite(ceiling(services[s])) ? rate(ceiling(services[s])) : '–',
    ]),
  );

  const markdown = `## 2. Services with a capacity limit

Each downstream service now handles a bounded number of requests at once and queues the rest,
first in, first out, as a service with a fixed pool of workers does (the queue is
[p-limit](https://github.com/sindresorhus/p-limit)'s, in front of the simulated work):

${settingsTable}

**The arithmetic.** A chain can go no faster than its slowest member: min(${SERVICES.filter(
    (s) => s !== 'warehouse',
  )
    .map((s) => rate(ceiling(services[s])))
    .join(', ')}) = **${rate(arithmetic.chain)} orders/s**,
whatever the number of users; past that, each user waits longer (users ÷ ${rate(arithmetic.chain)} s by Little's law),
in the queue in front of email. The event-driven order service calls payment and inventory only:
**${rate(arithmetic.requestPath)} orders/s**; the email consumer still sends at most ${rate(arithmetic.email)} a second, so whatever the
order service takes beyond that waits in the broker, as a backlog. The command queue calls the
same four services as the chain, so the same ${rate(arithmetic.chain)} applies to it. The _arithmetic ceiling_ column is
the lower of that limit and users ÷ the workflow's latency (1,050 ms, or 500 ms for Tidings).
Closed loop, ${env.durationMs / 1000} s per level, as in part 1.

${renderCapacityTable(records, settings)}

_waiting … (peak)_: the most requests queued in front of the service at one time (the consumer's
and the workers' ${settings.prefetch} at once included). _email busy_: the share of email's slots in use over
the window. _email backlog at end_: placed orders whose confirmation had not been sent when the
window ended.

![throughput, p99 latency and email backlog by number of users, with capacity limits](sync-vs-events-capacity.svg)

- **The chain is capped by email.** Its best was ${bestSync === undefined ? '–' : rate(bestSync.okPerSecond)} orders/s (the arithmetic: ${rate(arithmetic.chain)}), with
  email busy ${syncTop === undefined ? '–' : pct(syncTop.services.email.utilization, 1, 0)} of the time at ${highest} users and up to ${count(syncTop?.services.email.peakWaiting)} requests waiting in front of it;
  its p50 at ${highest} users was ${ms(syncTop?.p50Ms)} ms. The command queue did the same: ${bestRpc === undefined ? '–' : rate(bestRpc.okPerSecond)} orders/s at best,
  p50 ${ms(rpcTop?.p50Ms)} ms at ${highest} users. Putting a broker between the caller and the services moves
  where the requests wait (a queue on the broker, then the service's), not how fast they leave.
- **Tidings is capped by payment and inventory.** Its best was ${bestEvents === undefined ? '–' : rate(bestEvents.okPerSecond)} orders/s (the arithmetic:
  ${rate(arithmetic.requestPath)}), ${times(bestEvents?.okPerSecond, bestSync?.okPerSecond)} the chain's, with p50 ${ms(eventsTop?.p50Ms)} ms and p99 ${ms(eventsTop?.p99Ms)} ms at ${highest} users against the chain's
  ${ms(syncTop?.p50Ms)} and ${ms(syncTop?.p99Ms)} ms (p99 ${times(syncTop?.p99Ms, eventsTop?.p99Ms)}).
- **The difference went into the backlog.** At ${highest} users, ${count(eventsTop?.emailBacklogAtEnd)} confirmations were waiting when the
  window ended, cleared ${eventsTop?.drainMeasured ? '' : 'by estimate '}${ms(eventsTop?.drainMs)} ms later at email's own pace. Taking orders faster than email
  can confirm them is only sound if the backlog drains between peaks: the event-driven design
  buys throughput on the request path with a delay behind it, not with more email capacity.
`;

  const claims: ClaimRow[] = [
    {
      claim: 'peak throughput 4,200 (sync) vs 18,500 ops/s (events): 4.40×',
      arithmetic: `ceilings ${rate(arithmetic.chain)} vs ${rate(arithmetic.requestPath)} orders/s: ${times(arithmetic.requestPath, arithmetic.chain)}`,
      measured: `best ${bestSync === undefined ? '–' : rate(bestSync.okPerSecond)} vs ${bestEvents === undefined ? '–' : rate(bestEvents.okPerSecond)} orders/s: ${times(bestEvents?.okPerSecond, bestSync?.okPerSecond)}`,
      reading: `absolute figures: cannot be checked here (production systems); ratio: ${readRatio(4.4, throughputRatio)}. It is set by the capacities chosen (slowest service on the request path ÷ slowest in the chain), not by the architecture alone`,
    },
    {
      claim: 'p99 820 ms (sync) vs 145 ms (events): 5.66×',
      arithmetic: `at ${highest} users, waits of ${ms((highest / arithmetic.chain) * 1000)} vs ${ms(Math.max(500, (highest / arithmetic.requestPath) * 1000))} ms (mean, by Little's law): ${times(highest / arithmetic.chain, Math.max(0.5, highest / arithmetic.requestPath))}`,
      measured: `${ms(syncTop?.p99Ms)} vs ${ms(eventsTop?.p99Ms)} ms at ${highest} users with capacity limits: ${times(syncTop?.p99Ms, eventsTop?.p99Ms)}`,
      reading: `absolute figures: cannot be checked here; ratio: ${readRatio(820 / 145, p99Ratio)}. Past saturation it grows with the users (the chain's wait is users ÷ its ceiling)`,
    },
  ];
  return { markdown, claims };
}

/** CPU milliseconds per successful order of one part of a design. */
function perOrder(seconds: number | undefined, ok: number): string {
  return seconds === undefined || ok === 0 ? '–' : ((seconds * 1000) / ok).toFixed(2);
}

/** CPU seconds of the design's own processes: the order service and its consumers or workers. */
export function ownCpu(record: ComputeRecord): number {
  return record.cpu.orderService + (record.cpu.helper ?? 0);
}

/** CPU seconds of everything the run used: own processes, services, broker and database. */
export function allCpu(record: ComputeRecord): number {
  return ownCpu(record) + record.cpu.downstream + (record.cpu.rabbitmq ?? 0) + (record.cpu.postgres ?? 0);
}

/** The compute experiment as a Markdown table. */
export function renderComputeTable(records: readonly ComputeRecord[]): string {
  const rows = [...records]
    .sort(
      (a, b) => a.ratePerSecond - b.ratePerSecond || DESIGNS.indexOf(a.design) - DESIGNS.indexOf(b.design),
    )
    .map((r) => {
      const total =
        r.sockets.inbound + r.sockets.downstream + r.sockets.broker + r.sockets.database + r.sockets.other;
      return [
        `${r.ratePerSecond}/s`,
        DESIGN_TITLES[r.design],
        `${count(r.ok)}/${count(r.offered)}`,
        ms(r.p99Ms),
        perOrder(r.cpu.orderService, r.ok),
        perOrder(r.cpu.helper, r.ok),
        perOrder(ownCpu(r), r.ok),
        perOrder(r.cpu.downstream, r.ok),
        perOrder(r.cpu.rabbitmq, r.ok),
        perOrder(r.cpu.postgres, r.ok),
        perOrder(allCpu(r), r.ok),
        `${r.sockets.inbound} / ${r.sockets.downstream} / ${r.sockets.broker} / ${r.sockets.database}`,
        String(total),
        r.rssMiB.toFixed(0),
      ];
    });
  return markdownTable(
    [
      'offered',
      'design',
      'ok',
      'p99 ms',
      'order service',
      'consumers / workers',
      'own total',
      'services',
      'RabbitMQ',
      'PostgreSQL',
      'all',
      'in / services / broker / db',
      'connections',
      'memory MiB',
    ],
    [false, false, true, true, true, true, true, true, true, true, true, true, true, true],
    rows,
  );
}

/** The compute part of the report, and its rows of the closing table. */
export function computeSection(
  records: readonly ComputeRecord[],
  env: Environment,
): { readonly markdown: string; readonly claims: readonly ClaimRow[] } {
  const rates = [...new Set(records.map((r) => r.ratePerSecond))].sort((a, b) => a - b);
  const peak = rates.at(-1) ?? 0;
  const at = (design: Design) => records.find((r) => r.design === design && r.ratePerSecond === peak);
  const sync = at('sync');
  const events = at('events');
  const rpc = at('rpc');
  const per = (r: ComputeRecord | undefined, f: (r: ComputeRecord) => number): number | undefined =>
    r === undefined || r.ok === 0 ? undefined : f(r) / r.ok;
  const ownRatio = (per(sync, ownCpu) ?? Number.NaN) / (per(events, ownCpu) ?? Number.NaN);
  const allRatio = (per(sync, allCpu) ?? Number.NaN) / (per(events, allCpu) ?? Number.NaN);
  const connections = (r: ComputeRecord | undefined): number | undefined =>
    r === undefined
      ? undefined
      : r.sockets.inbound + r.sockets.downstream + r.sockets.broker + r.sockets.database + r.sockets.other;
  const sharedVisible = records.some((r) => r.cpu.rabbitmq !== undefined || r.cpu.postgres !== undefined);
  const fewer = (per(sync, ownCpu) ?? 0) < (per(events, ownCpu) ?? 0);

  const markdown = `## 3. Compute and connections per order

The same orders offered to each design at a fixed rate (an open loop: ${rates.join(' and ')} orders a second,
evenly spaced, for ${env.durationMs / 1000} s, services without capacity limits), and what each process used from
the start of the window until the last order's background work was done: CPU time (user +
system, read from \`/proc/<pid>/stat\`, the same figure \`process.cpuUsage()\` gives inside the process),
divided by the orders that succeeded; and the TCP connections the design's own processes held at
their peak (sampled every 200 ms from \`/proc/<pid>/fd\` and \`/proc/net/tcp\`).

${renderComputeTable(records)}

CPU columns are milliseconds per successful order. _order service_: the process that answers
\`POST /orders\`; _consumers / workers_: Tidings' consumers (email, analytics, dead-letter
monitor) or the command queue's workers, in a process of their own${env.consumersApart === false ? ' (here, with the in-memory broker, Tidings runs them in the order service)' : ''}; _services_:
the downstream services' process (the same work in every design); _RabbitMQ_, _PostgreSQL_: the
shared servers' processes${sharedVisible ? ', which serve any other work on the machine at the same time' : ' (not visible on this machine)'}. _in / services / broker / db_:
connections at the peak from clients, to the services, to the broker, to the database.

- **Per order, the chain used ${fewer ? 'less' : 'more'} CPU than Tidings, not more.** At ${peak} orders/s the chain's order service
  used ${perOrder(sync?.cpu.orderService, sync?.ok ?? 0)} ms per order; Tidings used ${perOrder(events === undefined ? undefined : ownCpu(events), events?.ok ?? 0)} ms in its own processes (the
  outbox write and relay, the publish, and the consumers' deliveries, idempotency marks and
  settlements) and ${perOrder(events === undefined ? undefined : allCpu(events), events?.ok ?? 0)} ms counting the services, broker and database against the chain's ${perOrder(sync === undefined ? undefined : allCpu(sync), sync?.ok ?? 0)}.
  The command queue used ${perOrder(rpc === undefined ? undefined : ownCpu(rpc), rpc?.ok ?? 0)} ms in its own processes and ${perOrder(rpc === undefined ? undefined : allCpu(rpc), rpc?.ok ?? 0)} ms in all: every call
  crosses the broker twice.
- **Waiting is not computing, in Node.** A chain request that waits for its services holds no
  thread: it is a socket and a few objects on the heap. The chain's order service held ${count(connections(sync))}
  connections at the peak (${count(sync?.sockets.inbound)} from customers waiting at once), Tidings' processes ${count(connections(events))} (${count(events?.sockets.inbound)} from
  customers, who wait half as long, but ${count(events?.sockets.database)} to the database from two pools, and ${count(events?.sockets.broker)} to the
  broker), the command queue's ${count(connections(rpc))}; and ${sync?.rssMiB.toFixed(0) ?? '–'}, ${events?.rssMiB.toFixed(0) ?? '–'} and ${rpc?.rssMiB.toFixed(0) ?? '–'} MiB of memory (Tidings and the
  command queue in two processes each). The claim's mechanism, threads blocked on I/O, belongs to
  a thread-per-request server, where each waiting request holds a thread and its stack; in Node
  what a waiting request holds is its connections, and there the chain ${(connections(sync) ?? 0) > (connections(events) ?? 0) ? 'held more' : 'did not hold more'}.
`;

  const claims: ClaimRow[] = [
    {
      claim: 'synchronous designs need 2.3× more compute at peak (thread/connection blocking)',
      arithmetic: 'none: CPU is not in the workflow',
      measured: `sync ÷ Tidings, CPU per successful order at ${peak}/s: ${Number.isFinite(ownRatio) ? `${ownRatio.toFixed(2)}×` : '–'} own processes, ${Number.isFinite(allRatio) ? `${allRatio.toFixed(2)}×` : '–'} with services, broker and database; connections ${times(connections(sync), connections(events))}`,
      reading: `${readRatio(2.3, Number.isFinite(ownRatio) ? ownRatio : undefined)} for CPU: in Node a waiting request costs connections and memory, not a thread or CPU time`,
    },
  ];
  return { markdown, claims };
}
