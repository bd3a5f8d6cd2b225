import type {
  AdapterCapabilities,
  AdapterSubscription,
  BrokerAdapter,
  OutgoingRecord,
  SubscribeSpec,
} from '@tidings/core/adapter';

/** What a scenario can ask of the suite's fixture. */
export interface Fixture {
  readonly capabilities: AdapterCapabilities;
  /** A new adapter on the same broker, connected; closed after the scenario. */
  adapter(): Promise<BrokerAdapter>;
  /** A unique topic name for this run. */
  topic(label: string): string;
  /** A unique consumer group name for this run. */
  group(label: string): string;
  /** A subscribe spec with the suite's defaults. */
  spec(overrides: Partial<SubscribeSpec> & Pick<SubscribeSpec, 'group' | 'topics'>): SubscribeSpec;
  /** Closes a subscription, giving up on unsettled records after `graceMs`. */
  closeSubscription(subscription: AdapterSubscription, graceMs?: number): Promise<void>;
}

/** Settings the fixture needs. */
export interface FixtureOptions {
  readonly createAdapter: () => BrokerAdapter | Promise<BrokerAdapter>;
  readonly capabilities: AdapterCapabilities;
  readonly namespace: string;
  readonly unicodeTopics: boolean;
}

/** Names and adapters made during a run, for cleanup. */
export interface Created {
  readonly topics: string[];
  readonly groups: string[];
}

/** @internal Builds the fixture and tracks what each scenario opened. */
export class SuiteFixture implements Fixture {
  readonly created: Created = { topics: [], groups: [] };
  private open: BrokerAdapter[] = [];
  private counter = 0;

  constructor(private readonly options: FixtureOptions) {}

  get capabilities(): AdapterCapabilities {
    return this.options.capabilities;
  }

  async adapter(): Promise<BrokerAdapter> {
    const adapter = await this.options.createAdapter();
    this.open.push(adapter);
    await adapter.connect();
    return adapter;
  }

  topic(label: string): string {
    const name = `${this.options.namespace}-${label}-${++this.counter}`;
    this.created.topics.push(name);
    return name;
  }

  group(label: string): string {
    const name = `${this.options.namespace}-g-${label}-${++this.counter}`;
    this.created.groups.push(name);
    return name;
  }

  spec(overrides: Partial<SubscribeSpec> & Pick<SubscribeSpec, 'group' | 'topics'>): SubscribeSpec {
    const concurrency = overrides.concurrency ?? 8;
    return {
      concurrency,
      // Holding no more than it runs, unless a scenario asks for more (concurrency-within-prefetch).
      prefetch: concurrency,
      ordering: 'none',
      // Scenarios publish after subscribing; starting a new group at the earliest record removes
      // any race between the group's creation and the first publish on brokers that retain records.
      startFrom: this.capabilities.replay ? 'earliest' : 'latest',
      maxAttempts: 10,
      handlerTimeoutMs: 5_000,
      ...overrides,
    };
  }

  async closeSubscription(subscription: AdapterSubscription, graceMs = 5_000): Promise<void> {
    await subscription.close({ signal: AbortSignal.timeout(graceMs) });
  }

  /** Closes every adapter the scenario opened. */
  async release(): Promise<void> {
    const adapters = this.open;
    this.open = [];
    await Promise.allSettled(
      adapters.map((adapter) => adapter.close({ signal: AbortSignal.timeout(5_000) })),
    );
  }
}

/** Records with distinct UTF-8 bodies `<prefix>-<i>`. */
export function records(
  topic: string,
  prefix: string,
  count: number,
  shape: { key?: (i: number) => string | undefined; headers?: (i: number) => Record<string, string> } = {},
): OutgoingRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    topic,
    key: shape.key?.(i),
    headers: shape.headers?.(i) ?? {},
    body: Buffer.from(`${prefix}-${i}`),
  }));
}

/** Publishes in batches of `size`, one batch at a time. */
export async function publishInBatches(
  adapter: BrokerAdapter,
  all: readonly OutgoingRecord[],
  size = 100,
): Promise<void> {
  for (let i = 0; i < all.length; i += size) await adapter.publish(all.slice(i, i + size));
}
