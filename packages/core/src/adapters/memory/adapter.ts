import { ClosedError, ConfigError } from '../../errors';
import { whenAborted } from '../../internal/abort';
import type {
  AdapterCapabilities,
  AdapterSubscription,
  BrokerAdapter,
  CloseOptions,
  ConnectionState,
  OutgoingRecord,
  RecordHandler,
  SettlementObserver,
  SubscribeSpec,
  SubscriptionState,
} from '../contract';
import { checkOptionNames, type OptionNames } from '../kit/option-names';
import { checkOutgoing } from '../kit/records';
import { checkSubscribeSpec } from '../kit/spec';
import { ANY_TOPIC } from '../kit/topic-rule';
import type {
  DeadLetterLocation,
  DeadLetterPage,
  DeadLetterStore,
  HistoryReplay,
  RedriveOutcome,
  ReplayFrom,
} from '../operations';
import type { ConsumerLag, ConsumerLagReporter, GroupAdmin, GroupDescription } from '../optional';
import { createMemoryBroker, type Member, type MemoryBroker, type MemoryBrokerOptions } from './broker';

/** Settings of {@link createMemoryAdapter}. */
export interface MemoryAdapterOptions extends MemoryBrokerOptions {
  /**
   * The broker to connect to. Share one between adapters to let several buses in one process talk
   * to each other. Default: a broker of this adapter's own, made with the other options.
   */
  readonly broker?: MemoryBroker;
  /** Largest body accepted, in bytes. Default 16 MiB. */
  readonly maxMessageBytes?: number;
}

const MEMORY_ADAPTER_OPTION_NAMES: OptionNames<MemoryAdapterOptions> = {
  broker: true,
  maxMessageBytes: true,
  retainedRecords: true,
  maxQueuedRecords: true,
  publishTimeoutMs: true,
  retainedDeadLetters: true,
};

/** What the in-memory adapter can do. */
export const memoryCapabilities: AdapterCapabilities = Object.freeze({
  ordering: 'key',
  durable: false,
  replay: true,
  redelivery: true,
  deliveryCount: true,
  delayedRetry: true,
  nativeDeadLetter: true,
  deduplication: false,
  maxMessageBytes: 16 * 1024 * 1024,
  delayToleranceMs: 50,
  headerPrefix: 'ce_',
  topicRule: ANY_TOPIC,
  operations: Object.freeze({ deadLetters: true, replay: true }),
});

class MemorySubscription implements AdapterSubscription, ConsumerLagReporter {
  private closing: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly broker: MemoryBroker,
    private readonly member: Member,
    private readonly onClosed: (subscription: MemorySubscription) => void,
  ) {}

  get state(): SubscriptionState {
    if (this.closed || this.closing !== undefined) return 'closed';
    return this.member.paused ? 'paused' : 'running';
  }

  get lastError(): Error | undefined {
    return undefined;
  }

  pause(): void {
    this.member.paused = true;
  }

  /** Records of each topic the group has not settled yet. */
  async lag(): Promise<ConsumerLag[]> {
    return this.member.queues.map((queue) => ({ topic: queue.topic.name, messages: queue.pending }));
  }

  resume(): void {
    if (!this.member.paused) return;
    this.member.paused = false;
    for (const queue of this.member.queues) this.broker.scheduleDispatch(queue);
  }

  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.drain(options.signal);
    return this.closing;
  }

  private async drain(signal: AbortSignal | undefined): Promise<void> {
    this.member.closing = true;
    const idle = this.member.idle();
    await (signal === undefined ? idle : Promise.race([idle, whenAborted(signal)]));
    // Whatever is still unsettled goes back to the group for its next member.
    this.broker.detach(this.member);
    this.closed = true;
    this.onClosed(this);
  }
}

class MemoryAdapter implements BrokerAdapter, DeadLetterStore, HistoryReplay, GroupAdmin {
  readonly name = 'memory';
  readonly capabilities: AdapterCapabilities;
  private readonly broker: MemoryBroker;
  private readonly subscriptions = new Set<MemorySubscription>();
  private connectionState: ConnectionState = 'idle';
  private closing: Promise<void> | undefined;

  constructor(options: MemoryAdapterOptions) {
    checkOptionNames(options, MEMORY_ADAPTER_OPTION_NAMES);
    this.broker = options.broker ?? createMemoryBroker(options);
    const maxMessageBytes = options.maxMessageBytes ?? memoryCapabilities.maxMessageBytes;
    if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1) {
      throw new ConfigError('maxMessageBytes', `must be a positive integer, got ${String(maxMessageBytes)}`);
    }
    this.capabilities = Object.freeze({ ...memoryCapabilities, maxMessageBytes });
  }

  get state(): ConnectionState {
    return this.connectionState;
  }

  async connect(): Promise<void> {
    if (this.closing !== undefined) throw new ClosedError('memory adapter is closed');
    this.connectionState = 'connected';
  }

  publish(records: readonly OutgoingRecord[]): Promise<void> {
    if (this.closing !== undefined)
      return Promise.reject(new ClosedError('cannot publish: memory adapter is closed'));
    try {
      checkOutgoing(records, this.capabilities);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.broker.publish(records);
  }

  async subscribe(
    spec: SubscribeSpec,
    handler: RecordHandler,
    observer?: SettlementObserver,
  ): Promise<AdapterSubscription> {
    if (this.closing !== undefined) throw new ClosedError('cannot subscribe: memory adapter is closed');
    checkSubscribeSpec(spec, this.capabilities);
    const member = this.broker.attach({
      observer,
      group: spec.group,
      topics: spec.topics,
      concurrency: spec.concurrency,
      ordering: spec.ordering,
      startFrom: spec.startFrom,
      handler,
    });
    const subscription = new MemorySubscription(this.broker, member, (s) => this.subscriptions.delete(s));
    this.subscriptions.add(subscription);
    return subscription;
  }

  async readDeadLetters(
    at: DeadLetterLocation,
    cursor: string | undefined,
    limit: number,
  ): Promise<DeadLetterPage> {
    this.checkOpen('read dead letters');
    return this.broker.readDeadLetters(at, cursor, limit);
  }

  async redriveDeadLetters(
    at: DeadLetterLocation,
    ids: readonly string[],
  ): Promise<readonly RedriveOutcome[]> {
    this.checkOpen('redrive dead letters');
    return this.broker.redriveDeadLetters(at, ids);
  }

  async deleteDeadLetters(at: DeadLetterLocation, ids: readonly string[]): Promise<number> {
    this.checkOpen('delete dead letters');
    return this.broker.deleteDeadLetters(at, ids);
  }

  async replayHistory(topic: string, group: string, from: ReplayFrom): Promise<void> {
    this.checkOpen('replay');
    this.broker.replay(topic, group, from);
  }

  async describeGroups(topics: readonly string[]): Promise<readonly GroupDescription[]> {
    this.checkOpen('describe groups');
    const stats = this.broker.stats();
    return topics.flatMap((topic) =>
      stats
        .filter((s) => s.topic === topic)
        .sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0))
        .map(
          (s): GroupDescription => ({
            topic,
            group: s.group,
            lag: s.pending,
            // The broker counts what the group has not settled, not what sits in its handlers.
            pending: undefined,
            members: s.members,
            state: s.members > 0 ? 'active' : 'idle',
          }),
        ),
    );
  }

  async deleteGroup(topic: string, group: string): Promise<boolean> {
    this.checkOpen('delete a group');
    return this.broker.deleteGroup(group, topic);
  }

  private checkOpen(what: string): void {
    if (this.closing !== undefined) throw new ClosedError(`cannot ${what}: memory adapter is closed`);
  }

  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.subscriptions].map((s) => s.close(options)));
      this.connectionState = 'closed';
    })();
    return this.closing;
  }
}

/**
 * Creates the in-memory adapter: the embedded default, and the transport for tests and
 * single-process apps. It behaves like a broker (consumer groups, per-key ordering, delayed
 * redelivery, dead letters, backpressure) but keeps nothing across restarts.
 *
 * @example
 * ```ts
 * const bus = createBus({ source: 'shop', adapter: createMemoryAdapter({ maxQueuedRecords: 50_000 }) });
 * ```
 */
export function createMemoryAdapter(options: MemoryAdapterOptions = {}): BrokerAdapter {
  return new MemoryAdapter(options);
}
