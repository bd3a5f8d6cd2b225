// The report's fourth part: five downstream services, healthy and under a fault schedule, for the
// chain, the command queue and Tidings; and the share of customer requests that fail.

import { type ClaimRow, count, markdownTable, ms, pct, readRatio, times } from './format';
import {
  DESIGN_TITLES,
  DESIGNS,
  type Environment,
  type ExperimentSettings,
  type FaultRecord,
} from './results';
import { SERVICES, type ServiceName, type ServiceSettings } from './services';
import type { Design } from './system-under-test';

/** The services on the customer's request path in each design. */
export const ON_PATH: Readonly<Record<Design, readonly ServiceName[]>> = {
  sync: SERVICES,
  rpc: SERVICES,
  events: ['payment', 'inventory'],
};

/** Share of a service's calls that the schedule fails or stalls past any deadline. */
const faultShare = (s: ServiceSettings): number => (s.failShare ?? 0) + (s.stallShare ?? 0);

/**
 * The arithmetic: a customer request fails when any service on its path fails or stalls on the
 * first try (nothing on the request path retries): 1 − ∏ (1 − share).
 */
export function expectedFailure(
  services: Readonly<Record<ServiceName, ServiceSettings>>,
  design: Design,
): number {
  return 1 - ON_PATH[design].reduce((ok, s) => ok * (1 - faultShare(services[s])), 1);
}

const share = (part: number, whole: number): number => (whole === 0 ? Number.NaN : part / whole);

/** The five-service experiment as a Markdown table. */
export function renderFaultTable(records: readonly FaultRecord[], settings: ExperimentSettings): string {
  const rows = [...records]
    .sort(
      (a, b) =>
        (a.schedule === b.schedule ? 0 : a.schedule === 'healthy' ? -1 : 1) ||
        DESIGNS.indexOf(a.design) - DESIGNS.indexOf(b.design),
    )
    .map((r) => [
      r.schedule === 'healthy' ? 'healthy' : 'fault schedule',
      DESIGN_TITLES[r.design],
      count(r.offered),
      count(r.ok),
      count(r.errors),
      count(r.late),
      pct(r.errors + r.late, r.offered),
      r.schedule === 'healthy' ? '0.0 %' : pct(expectedFailure(settings.faults.services, r.design), 1),
      ms(r.p50Ms),
      ms(r.p99Ms),
      r.schedule === 'healthy' ? '–' : count(r.faulted),
      r.schedule === 'healthy' ? '–' : pct(r.faultedFailed, r.faulted),
      r.background === undefined
        ? '–'
        : `${count(r.background.deadLettered)}${r.background.drained ? '' : ' (not drained)'}`,
    ]);
  return markdownTable(
    [
      'services',
      'design',
      'requests',
      'ok',
      'errors',
      'late',
      'failed',
      'arithmetic',
      'p50 ms',
      'p99 ms',
      'orders that met a fault',
      'propagation',
      'background dead-lettered',
    ],
    [false, false, true, true, true, true, true, true, true, true, true, true, true],
    rows,
  );
}

// Whether the command queue's p99 lies between the chain's and Tidings', as the claim has it.
function between(sync?: FaultRecord, rpc?: FaultRecord, events?: FaultRecord): boolean {
  return (
    sync !== undefined &&
    rpc !== undefined &&
    events !== undefined &&
    events.p99Ms < rpc.p99Ms &&
    rpc.p99Ms < sync.p99Ms
  );
}

/** The five-service part of the report, and its rows of the closing table. */
export function faultSection(
  records: readonly FaultRecord[],
  env: Environment,
  settings: ExperimentSettings,
): { readonly markdown: string; readonly claims: readonly ClaimRow[] } {
  const { services, deadlineMs, ratePerSecond } = settings.faults;
  const find = (design: Design, schedule: FaultRecord['schedule']) =>
    records.find((r) => r.design === design && r.schedule === schedule);
  const healthy = (design: Design) => find(design, 'healthy');
  const faulty = (design: Design) => find(design, 'faults');
  const failed = (r: FaultRecord | undefined): number | undefined =>
    r === undefined ? undefined : share(r.errors + r.late, r.offered);
  const propagation = (r: FaultRecord | undefined): number | undefined =>
    r === undefined ? undefined : share(r.faultedFailed, r.faulted);
  const stallMs = Math.max(...SERVICES.map((s) => services[s].stallMs ?? 0));
  const chainSum = SERVICES.reduce((sum, s) => sum + settings.latencyMs[s], 0);
  const pathSum = settings.latencyMs.payment + settings.latencyMs.inventory;
  const p = (value: number | undefined): string =>
    value === undefined || Number.isNaN(value) ? '–' : `${(value * 100).toFixed(1)} %`;

  const schedule = markdownTable(
    [
      'service',
      'latency ms',
      'answers 503 at once',
      `stalls ${ms(stallMs)} ms`,
      "on the chain's path",
      "on Tidings' path",
    ],
    [false, true, true, true, false, false],
    SERVICES.map((s) => [
      s,
      ms(services[s].latencyMs),
      pct(services[s].failShare ?? 0, 1, 0),
      pct(services[s].stallShare ?? 0, 1, 0),
      'yes',
      ON_PATH.events.includes(s) ? 'yes' : 'no: a consumer',
    ]),
  );
  const hs = healthy('sync');
  const hr = healthy('rpc');
  const he = healthy('events');
  const fs = faulty('sync');
  const fr = faulty('rpc');
  const fe = faulty('events');

  const markdown = `## 4. Five services, healthy and with faults

The workflow with a fifth service, the warehouse (250 ms), which packs the order: the chain and
the command queue call payment, inventory, email, analytics and the warehouse in turn (nominally
${ms(chainSum)} ms); Tidings calls payment and inventory (${ms(pathSum)} ms) and its fulfilment consumer calls
the warehouse, then publishes \`ShipmentPrepared\` (which analytics tracks as well). Orders arrive at
${ratePerSecond} a second (open loop), for ${settings.faults.healthyDurationMs / 1000} s with every service healthy and for ${settings.faults.faultsDurationMs / 1000} s under this fault
schedule:

${schedule}

Which calls fail is decided by a hash of the service, the customer and the attempt, so the same
customer requests meet the same faults in each design. Nothing on the request path retries, in
any design: the customer is waiting. Tidings' consumers retry (${env.retry.maxAttempts} attempts, then the dead-letter
topic); the stalls are held inside the service's slot, and the consumers wait them out.

**Definitions.** A customer request _fails_ when it is answered with anything but a 2xx, or not
answered within the customer's deadline of ${ms(deadlineMs)} ms (_late_). An order _met a fault_ when the
schedule failed or stalled at least one call made for it, in any service, on any attempt,
before or after the customer was answered. **Propagation** is the share of the orders that met
a fault whose customer request failed: how often a fault somewhere reached the customer. The
articles give no definition; this one can be measured in every design. _arithmetic_: a request
fails when any service on its path fails or stalls, 1 − ∏(1 − share) over those services.

${renderFaultTable(records, settings)}

_background dead-lettered_: Tidings only: background steps (a confirmation, a tracking, a
shipment) given up after the last retry and left on a dead-letter topic for an operator.

- **Healthy, the command queue is ${between(hs, hr, he) ? 'in the middle' : 'not in the middle'}.** p99 ${ms(hs?.p99Ms)} ms for the chain, ${ms(hr?.p99Ms)} ms for the
  command queue, ${ms(he?.p99Ms)} ms for Tidings (p50 ${ms(hs?.p50Ms)}, ${ms(hr?.p50Ms)}, ${ms(he?.p50Ms)}). Sending each call as a command
  and waiting for its reply keeps every step on the request path and adds two broker hops to each.
  The ratio of the chain to Tidings is the workflow's arithmetic, ${ms(chainSum)} ÷ ${ms(pathSum)} = ${(chainSum / pathSum).toFixed(1)}, not a property
  of events.
- **With faults, the request path decides.** ${p(failed(fs))} of the chain's customer requests failed, ${p(failed(fr))} of
  the command queue's, ${p(failed(fe))} of Tidings' (the arithmetic: ${p(expectedFailure(services, 'sync'))}, ${p(expectedFailure(services, 'rpc'))}, ${p(expectedFailure(services, 'events'))}).
  In the chain and the command queue every fault is on the path, so propagation is ${p(propagation(fs))} and ${p(propagation(fr))};
  in Tidings only payment's and inventory's are: ${p(propagation(fe))}. The email, analytics and warehouse
  faults were retried behind the answer${fe?.background === undefined ? '' : `; ${count(fe.background.deadLettered)} background steps ran out of retries and were dead-lettered`}.
- **The middle ground ${(failed(fr) ?? 0) >= (failed(fs) ?? 0) * 0.9 ? 'buys nothing here' : 'helped a little here'}.** A broker between the caller and the services makes a
  call survive a worker's crash (the command waits in its queue), but a service that fails or
  stalls fails the waiting customer just the same; and the customer waits longer. Retries on
  the request path would lower both the chain's and the command queue's failures alike, at the
  price of the customer's time; they were not measured.
`;

  const ratio = (a: number | undefined, b: number | undefined): number | undefined =>
    a === undefined || b === undefined || b === 0 ? undefined : a / b;
  const claims: ClaimRow[] = [
    {
      claim: 'p99 420 / 180 / 85 ms (REST / message queue / events), 5 services',
      arithmetic: `${ms(chainSum)} / ${ms(chainSum)} + 10 broker hops / ${ms(pathSum)} ms: chain ÷ events ${(chainSum / pathSum).toFixed(2)}×`,
      measured: `${ms(hs?.p99Ms)} / ${ms(hr?.p99Ms)} / ${ms(he?.p99Ms)} ms healthy at ${ratePerSecond}/s (chain ÷ events ${times(hs?.p99Ms, he?.p99Ms)}, queue ÷ events ${times(hr?.p99Ms, he?.p99Ms)})`,
      reading: `absolute figures: cannot be checked here; chain ÷ events (claimed 4.94×): ${readRatio(420 / 85, ratio(hs?.p99Ms, he?.p99Ms))}; the queue in between (claimed 2.12× events): ${between(hs, hr, he) ? 'agrees in order' : 'does not: it is no faster than the chain'}`,
    },
    {
      claim: 'failure propagation 68 % / 34 % / 12 % (REST / message queue / events), 5 services',
      arithmetic: `requests failed ${p(expectedFailure(services, 'sync'))} / ${p(expectedFailure(services, 'rpc'))} / ${p(expectedFailure(services, 'events'))}`,
      measured: `propagation ${p(propagation(fs))} / ${p(propagation(fr))} / ${p(propagation(fe))}; requests failed ${p(failed(fs))} / ${p(failed(fr))} / ${p(failed(fe))}`,
      reading:
        'cannot be checked as stated: the articles do not define propagation, and it depends on the fault schedule. ' +
        'With the definition above: events far lowest (agrees in direction); the queue no better than the chain (does not)',
    },
  ];
  return { markdown, claims };
}
