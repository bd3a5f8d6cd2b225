// The report's first part: the workflow article's latency figures, with email normal, slow and
// down, the chain against Tidings. Every number comes from the run; the verdicts are computed, so
// the text cannot drift from the table when the experiment is run again.
import { type ClaimRow, count, markdownTable, ms, rate, seconds, signed } from './format';
import { type Environment, type RunRecord, SCENARIOS, type ScenarioId } from './results';

function find(
  records: readonly RunRecord[],
  scenario: ScenarioId,
  system: 'sync' | 'events',
  users: number,
): RunRecord | undefined {
  return records.find((r) => r.scenario === scenario && r.system === system && r.users === users);
}

function eventsColumns(record: RunRecord): string[] {
  if (record.system === 'sync') return ['–', '–', '–'];
  let drain = '–';
  if (record.drainMeasured === true) drain = ms(record.drainMs);
  else if (record.drainMeasured === false) {
    drain = record.drainMs === undefined ? 'not draining' : `≈ ${ms(record.drainMs)} (est.)`;
  }
  return [
    (record.emailBacklogAtEnd ?? 0).toLocaleString('en-US'),
    drain,
    (record.emailsDeadLettered ?? 0).toLocaleString('en-US'),
  ];
}

/** The latency experiment as a Markdown table, one row per measurement. */
export function renderLatencyTable(records: readonly RunRecord[]): string {
  const rows: string[][] = [];
  for (const scenario of SCENARIOS) {
    for (const record of records.filter((r) => r.scenario === scenario.id)) {
      const okShare = record.requests === 0 ? 0 : (record.ok / record.requests) * 100;
      rows.push([
        scenario.title,
        record.system === 'sync' ? 'sync chain' : 'Tidings',
        String(record.users),
        record.requests.toLocaleString('en-US'),
        `${okShare.toFixed(0)} %`,
        ms(record.p50Ms),
        ms(record.p99Ms),
        rate(record.okPerSecond),
        ...eventsColumns(record),
      ]);
    }
  }
  return markdownTable(
    [
      'situation',
      'system',
      'users',
      'requests',
      'ok',
      'p50 ms',
      'p99 ms',
      'ok orders/s',
      'email backlog at end',
      'drained in ms',
      'emails dead-lettered',
    ],
    [false, false, true, true, true, true, true, true, true, true, true],
    rows,
  );
}

interface Verdict {
  readonly claim: string;
  /** What the seed material says. */
  readonly claimedMs: number;
  /** What the workflow's own numbers add up to. */
  readonly sumMs: number;
  readonly sum: string;
  readonly measured: RunRecord | undefined;
}

// A claim agrees when the measurement is within 5 % of it; when the claim and the arithmetic
// differ, the measurement says which of the two it follows.
function reading(verdict: Verdict): string {
  const { measured } = verdict;
  if (measured === undefined) return 'not measured';
  const versusClaim = ((measured.p50Ms - verdict.claimedMs) / verdict.claimedMs) * 100;
  if (verdict.claimedMs !== verdict.sumMs) {
    const followsSum =
      Math.abs(measured.p50Ms - verdict.sumMs) < Math.abs(measured.p50Ms - verdict.claimedMs);
    return followsSum
      ? `the measurement follows the arithmetic, not the claim: the claim is ${ms(verdict.claimedMs - verdict.sumMs)} ms too high`
      : 'the measurement follows the claim';
  }
  return Math.abs(versusClaim) <= 5 ? 'agrees' : Math.abs(versusClaim) <= 15 ? 'roughly agrees' : 'disagrees';
}

function verdictRow(verdict: Verdict): string[] {
  const { measured } = verdict;
  if (measured === undefined) return [verdict.claim, verdict.sum, 'not measured', '', '', ''];
  const versusClaim = ((measured.p50Ms - verdict.claimedMs) / verdict.claimedMs) * 100;
  return [
    verdict.claim,
    verdict.sum,
    `${ms(measured.p50Ms)} ms`,
    `${signed(versusClaim)} %`,
    `${signed(measured.p50Ms - verdict.sumMs, 0)} ms`,
    reading(verdict),
  ];
}

// The first bullet of the reading, from the verdicts on the chain and the hybrid.
function lowLoadReading(verdicts: readonly Verdict[]): string {
  const close = verdicts
    .filter((v) => v.claimedMs === v.sumMs && v.measured !== undefined)
    .map((v) => ({ v, diff: ((v.measured!.p50Ms - v.claimedMs) / v.claimedMs) * 100 }));
  const off = close.filter(({ diff }) => Math.abs(diff) > 5);
  if (off.length === 0) {
    return (
      '**At one user the latency claims hold**, within ' +
      `${Math.max(...close.map(({ diff }) => Math.abs(diff))).toFixed(1)} %: the chain costs the sum of its four calls, the ` +
      'hybrid the sum of two, and slowing the email changes the chain only.'
    );
  }
  return `**At one user some latency claims do not hold**: ${off.map(({ v, diff }) => `${v.claim} (${signed(diff)} %)`).join(', ')}.`;
}

// Whether the event-driven p99 stayed below the chain's p50 at every measured level while email
// worked (with email down the chain answers errors, fast, which is no latency to compare with).
function hybridAlwaysFaster(records: readonly RunRecord[]): boolean {
  return records
    .filter((r) => r.system === 'events' && r.scenario !== 'down')
    .every((events) => {
      const sync = find(records, events.scenario, 'sync', events.users);
      return sync === undefined || events.p99Ms < sync.p50Ms;
    });
}

// Little's law says 2.1× while nothing saturates; below that, this machine's CPU took its share.
function throughputReading(
  events: RunRecord | undefined,
  sync: RunRecord | undefined,
  users: number,
): string {
  if (events === undefined || sync === undefined || sync.okPerSecond === 0) return 'not measured';
  const ratio = events.okPerSecond / sync.okPerSecond;
  if (ratio >= 1.8)
    return "agrees, by Little's law: half the latency, about twice the orders in a closed loop";
  if (ratio > 1.2) {
    return `agrees in direction; below Little's 2.1× at ${users} users, where this machine's CPU, not the services, sets the pace`;
  }
  return 'does not: the event-driven version did not complete clearly more orders';
}

/** The latency part of the report, and its rows of the closing table. */
export function latencySection(
  records: readonly RunRecord[],
  env: Environment,
): { readonly markdown: string; readonly claims: readonly ClaimRow[] } {
  const levels = [...new Set(records.map((r) => r.users))].sort((a, b) => a - b);
  const top = levels.at(-1) ?? 1;
  const syncOne = find(records, 'normal', 'sync', 1);
  const eventsOne = find(records, 'normal', 'events', 1);
  const slowSyncOne = find(records, 'slow', 'sync', 1);
  const slowEventsOne = find(records, 'slow', 'events', 1);
  const syncTop = find(records, 'normal', 'sync', top);
  const eventsTop = find(records, 'normal', 'events', top);
  const slowSyncTop = find(records, 'slow', 'sync', top);
  const slowEventsTop = find(records, 'slow', 'events', top);
  const downSyncTop = find(records, 'down', 'sync', top);
  const downEventsTop = find(records, 'down', 'events', top);

  const verdicts: Verdict[] = [
    {
      claim: 'chain ≈ 1,050 ms',
      claimedMs: 1_050,
      sumMs: 1_050,
      sum: '300 + 200 + 400 + 150 = 1,050',
      measured: syncOne,
    },
    { claim: 'hybrid ≈ 500 ms', claimedMs: 500, sumMs: 500, sum: '300 + 200 = 500', measured: eventsOne },
    {
      claim: 'email at 3 s: chain ≈ 3,750 ms',
      claimedMs: 3_750,
      sumMs: 3_650,
      sum: '300 + 200 + 3,000 + 150 = 3,650',
      measured: slowSyncOne,
    },
    {
      claim: 'email at 3 s: hybrid unchanged (implied)',
      claimedMs: 500,
      sumMs: 500,
      sum: '300 + 200 = 500',
      measured: slowEventsOne,
    },
  ];

  const ratio = (a: RunRecord | undefined, b: RunRecord | undefined): string =>
    a === undefined || b === undefined || b.okPerSecond === 0
      ? '–'
      : `${(a.okPerSecond / b.okPerSecond).toFixed(2)}×`;
  const downEventsDlq = downEventsTop?.emailsDeadLettered ?? 0;
  const slowBacklog = slowEventsTop?.emailBacklogAtEnd ?? 0;
  const slowDrain = slowEventsTop?.drainMs;

  const markdown = `## 1. The workflow's latency: email normal, slow and down

${renderLatencyTable(records)}

_email backlog at end_: orders whose confirmation had been neither sent nor dead-lettered when the
window ended. _drained in ms_: time after the window until every one was; when that took longer
than the runner waits, it is estimated from the pace the consumer kept meanwhile (_est._).
_emails dead-lettered_: confirmations that went to the dead-letter topic after their last attempt.

![p50 and p99 latency and throughput by number of users](sync-vs-events.svg)

At one user, where nothing competes for the CPU (p50 of the client's latency):

${markdownTable(
  ['claim', "the workflow's arithmetic", 'measured', 'vs the claim', 'vs the arithmetic', 'reading'],
  [false, false, true, true, true, false],
  verdicts.map(verdictRow),
)}

The few milliseconds above the arithmetic are the HTTP hops (four for the chain, two for the
hybrid), JSON, and the order's write (for the hybrid, with its event in the outbox, in one
transaction).

Throughput: at ${top} users the event-driven version completed ${ratio(eventsTop, syncTop)} the successful orders per
second of the chain with email at 400 ms, ${ratio(slowEventsTop, slowSyncTop)} with email at 3 s, and while email was down
${downSyncTop === undefined ? '–' : rate(downSyncTop.okPerSecond)} against ${downEventsTop === undefined ? '–' : rate(downEventsTop.okPerSecond)} orders per second.
Here the services take a fixed time and never saturate, so in a closed loop throughput is users ÷
latency (Little's law), and the ratio is mostly the latency ratio seen from the other side: the
claim holds, for that reason rather than because anything got faster. Part 2 gives the services
a capacity limit.

- ${lowLoadReading(verdicts)}
- **The third figure is an arithmetic slip.** 300 + 200 + 3,000 + 150 is 3,650 ms, and the chain
  took ${ms(slowSyncOne?.p50Ms)} ms; the claimed 3,750 ms would need 100 ms more than the workflow contains.
- **Under load, the event-driven side feels the CPU first.** From 1 to ${top} users the chain's p50 went
  from ${ms(syncOne?.p50Ms)} to ${ms(syncTop?.p50Ms)} ms (p99 ${ms(syncTop?.p99Ms)}), the event-driven p50 from ${ms(eventsOne?.p50Ms)} to ${ms(eventsTop?.p50Ms)} ms (p99 ${ms(eventsTop?.p99Ms)}).
  Everything shares ${env.cpus} cores here, and the event-driven side does more per second: ${ratio(eventsTop, syncTop)}
  the orders, plus the relay and the consumers. The absolute figures at ${top}
  users are this machine's; what ${hybridAlwaysFaster(records) ? 'holds' : 'mostly holds'} is the ordering: with email working (fast or slow), the
  event-driven p99 stayed below the chain's p50 at ${hybridAlwaysFaster(records) ? 'every level' : 'most levels (see the table)'}.
- **Email down.** The chain took no order at all: ${count(downSyncTop?.ok)} of ${count(downSyncTop?.requests)} requests succeeded at ${top} users,
  each answered in about ${ms(downSyncTop?.p50Ms)} ms with a \`502\` after the payment was authorized and then
  voided. (A chain written to ignore email failures would take the orders, at about 650 ms by the
  arithmetic, and lose the confirmations without a trace; that was not measured.) The
  event-driven version took ${count(downEventsTop?.ok)} of ${count(downEventsTop?.requests)}, and every confirmation it could not send went to
  the dead-letter topic after ${env.retry.maxAttempts} attempts (${count(downEventsDlq)} at ${top} users), to be replayed once the provider is
  back. None was lost. Its own p50 rose from ${ms(eventsTop?.p50Ms)} to ${ms(downEventsTop?.p50Ms)} ms meanwhile: the retries run
  on the same cores as the API.
- **The slow email moved to a queue.** With email at 3 s and ${top} users, the customers kept getting
  fast answers, but ${slowBacklog.toLocaleString('en-US')} confirmations were waiting when the window ended, and the last of
  them went out ${slowEventsTop?.drainMeasured ? '' : 'by estimate '}about ${seconds(slowDrain)} later (the consumer sends ${env.consumerConcurrency} at once,
  so at most ${(env.consumerConcurrency / 3).toFixed(0)} per second at 3 s each).
`;

  const claims: ClaimRow[] = verdicts.map((v) => ({
    claim: `workflow: ${v.claim}`,
    arithmetic: `${v.sum} ms`,
    measured: v.measured === undefined ? 'not measured' : `${ms(v.measured.p50Ms)} ms (p50, 1 user)`,
    reading: reading(v),
  }));
  claims.push({
    claim: 'workflow: the hybrid raises throughput (implied)',
    arithmetic: "users ÷ latency (Little's law): 1,050 ÷ 500 = 2.1×",
    measured: `${ratio(eventsTop, syncTop)} the chain's orders/s at ${top} users`,
    reading: throughputReading(eventsTop, syncTop, top),
  });
  return { markdown, claims };
}
