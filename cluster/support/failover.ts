import type { AdapterSubscription, BrokerAdapter, IncomingRecord } from '@tidings/core/adapter';

/** What one failover run measured. */
export interface FailoverResult {
  readonly broker: string;
  /** Events whose publish resolved (the broker acknowledged them). */
  readonly acknowledged: number;
  /** Distinct events the subscription handled. */
  readonly handled: number;
  /** Acknowledged events never handled: must be 0. */
  readonly lost: number;
  /** Deliveries beyond the first of an event. */
  readonly duplicates: number;
  /** Publish calls that rejected (the event was published again until acknowledged). */
  readonly publishFailures: number;
  /** From the SIGKILL to the first publish acknowledged after it, in ms. */
  readonly publishRecoveryMs: number;
  /**
   * From the SIGKILL to the end of the longest pause in handling after it, in ms: when the
   * subscription handled events again. (Records fetched before the kill may still be handled
   * during the first moments; the pause comes when they run out.)
   */
  readonly recoveryMs: number;
  /** The longest pause in handling after the SIGKILL, in ms. */
  readonly stallMs: number;
  /**
   * From the SIGKILL to the first event handled that was published after it, in ms: the pipeline
   * flowing end to end again, backlog included.
   */
  readonly endToEndMs: number;
  /** The whole run, in ms. */
  readonly durationMs: number;
  /** The node killed. */
  readonly killedNode: number;
}

/** What the broker's test gives the run. */
export interface FailoverPlan {
  readonly broker: string;
  /** Events to publish, each awaited. */
  readonly events: number;
  readonly topic: string;
  readonly group: string;
  /** Publishes through it. */
  readonly publisher: BrokerAdapter;
  /** Consumes through it (another connection, as another process would). */
  readonly consumer: BrokerAdapter;
  /** The node that leads the stream or partition now. */
  leader(): Promise<number>;
  kill(node: number): Promise<void>;
  /** Starts the killed node again; resolves when the cluster is whole. */
  restart(): Promise<void>;
  /** How long to wait for the last events after the last publish, in ms. */
  readonly drainTimeoutMs: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Publishes `events` events one at a time (each awaited; a rejected publish is tried again 50 ms later until
 * the broker acknowledges it, as an application would) while a subscription acknowledges every one it
 * handles. At half, the node leading the stream is SIGKILLed; at three quarters its restart is
 * started (without waiting for it). Then waits until every acknowledged event was handled or
 * `drainTimeoutMs` passed, and counts.
 */
export async function runFailover(plan: FailoverPlan): Promise<FailoverResult> {
  const t0 = performance.now();
  const seen = new Map<number, number>();
  const publishedAt = new Float64Array(plan.events).fill(Number.NaN);
  const acknowledged = new Set<number>();
  let killedAt = Number.NaN;
  let firstHandledAfterKill = Number.NaN;
  const handledAt: number[] = [];
  let firstAckAfterKill = Number.NaN;
  let publishFailures = 0;
  let waiting: (() => void) | undefined;

  const handler = async (record: IncomingRecord) => {
    const n = Number(decoder.decode(record.body));
    seen.set(n, (seen.get(n) ?? 0) + 1);
    handledAt.push(performance.now());
    if (Number.isNaN(firstHandledAfterKill) && publishedAt[n]! > killedAt) {
      firstHandledAfterKill = performance.now();
    }
    if (waiting !== undefined && acknowledged.size === plan.events && allHandled()) waiting();
    return { type: 'ack' as const };
  };
  const allHandled = (): boolean => {
    for (const n of acknowledged) if (!seen.has(n)) return false;
    return true;
  };

  await plan.publisher.connect();
  await plan.consumer.connect();
  const subscription: AdapterSubscription = await plan.consumer.subscribe(
    {
      group: plan.group,
      topics: [plan.topic],
      concurrency: 32,
      prefetch: 32,
      ordering: 'none',
      startFrom: 'earliest',
      maxAttempts: 100,
      handlerTimeoutMs: 30_000,
    },
    handler,
  );

  const idHeader = `${plan.publisher.capabilities.headerPrefix}id`;
  let killedNode = 0;
  let restart: Promise<void> | undefined;
  try {
    for (let n = 0; n < plan.events; n++) {
      if (n === Math.floor(plan.events / 2)) {
        killedNode = await plan.leader();
        killedAt = performance.now();
        await plan.kill(killedNode);
      }
      if (n === Math.floor((plan.events * 3) / 4)) restart = plan.restart();
      for (;;) {
        const started = performance.now();
        if (Number.isNaN(publishedAt[n]!)) publishedAt[n] = started;
        try {
          await plan.publisher.publish([
            {
              topic: plan.topic,
              key: `k${n % 64}`,
              headers: { [idHeader]: `failover-${n}` },
              body: encoder.encode(String(n)),
            },
          ]);
          acknowledged.add(n);
          if (Number.isNaN(firstAckAfterKill) && started > killedAt) firstAckAfterKill = performance.now();
          break;
        } catch {
          publishFailures++;
          // The first publish after a failure counts from its own start: an event published anew.
          publishedAt[n] = Number.NaN;
          // As an application would: a short pause rather than a busy loop while there is no leader.
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    }
    if (!allHandled()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, plan.drainTimeoutMs);
        waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    await restart;
  } finally {
    await subscription.close();
  }

  let lost = 0;
  for (const n of acknowledged) if (!seen.has(n)) lost++;
  let duplicates = 0;
  for (const count of seen.values()) duplicates += count - 1;
  return {
    broker: plan.broker,
    acknowledged: acknowledged.size,
    handled: seen.size,
    lost,
    duplicates,
    publishFailures,
    publishRecoveryMs: Math.round(firstAckAfterKill - killedAt),
    ...stall(handledAt, killedAt),
    endToEndMs: Math.round(firstHandledAfterKill - killedAt),
    durationMs: Math.round(performance.now() - t0),
    killedNode,
  };
}

/** The longest pause in handling after the kill, and when it ended, counted from the kill. */
function stall(handledAt: readonly number[], killedAt: number): { recoveryMs: number; stallMs: number } {
  let previous = killedAt;
  let longest = 0;
  let endedAt = killedAt;
  for (const at of handledAt) {
    if (at <= killedAt) continue;
    if (at - previous > longest) {
      longest = at - previous;
      endedAt = at;
    }
    previous = at;
  }
  return { recoveryMs: Math.round(endedAt - killedAt), stallMs: Math.round(longest) };
}

/** The results as a Markdown table, as docs/scaling.md shows them. */
export function failoverTable(results: readonly FailoverResult[]): string {
  const rows = [
    '| broker | events acknowledged | handled | lost | duplicates | failed publishes | kill → publish acknowledged | kill → handling resumed (pause) | kill → first new event handled | run |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.map(
      (r) =>
        `| ${r.broker} | ${r.acknowledged} | ${r.handled} | ${r.lost} | ${r.duplicates} | ${r.publishFailures} | ${r.publishRecoveryMs} ms | ${r.recoveryMs} ms (${r.stallMs} ms) | ${r.endToEndMs} ms | ${(r.durationMs / 1000).toFixed(1)} s |`,
    ),
  ];
  return rows.join('\n');
}

/** Events per run: TIDINGS_FAILOVER_EVENTS, default 20,000 (a CI-sized run sets 2,000). */
export function failoverEvents(): number {
  const raw = process.env.TIDINGS_FAILOVER_EVENTS ?? '20000';
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 100)
    throw new Error(`TIDINGS_FAILOVER_EVENTS must be an integer ≥ 100, got ${raw}`);
  return n;
}
