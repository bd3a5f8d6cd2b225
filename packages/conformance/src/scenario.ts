import type { AdapterCapabilities, BrokerAdapter } from '@tidings/core/adapter';
import type { Fixture } from './fixture';

/** Names of the scenarios, for `skip` and for reading the output. */
export type ScenarioName =
  | 'publish-consume-all'
  | 'many-topics'
  | 'one-group-many-subscriptions'
  | 'competing-consumers'
  | 'fan-out'
  | 'redelivery-after-failure'
  | 'attempt-numbers'
  | 'unsettled-redelivered'
  | 'retry-delay'
  | 'dead-letter'
  | 'dead-letter-kept'
  | 'key-ordering'
  | 'resume'
  | 'start-position'
  | 'close-semantics'
  | 'bodies-and-unicode'
  | 'concurrent-publishers'
  | 'concurrency-within-prefetch'
  | 'reconnect'
  | 'consumer-lag'
  | 'group-admin'
  | 'dead-letter-always-lands'
  | 'topic-rule'
  | 'hostile-input'
  | 'throughput-smoke'
  | 'batch-consume-all'
  | 'batch-settlement'
  | 'batch-key-order'
  | 'dead-letter-browse'
  | 'dead-letter-redrive'
  | 'dead-letter-redrive-resume'
  | 'dead-letter-purge'
  | 'replay-from-time';

/** A record as another producer writes it with the broker's raw client: nothing checked. */
export interface RawRecord {
  readonly key: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/** Settings of the hostile-input scenario, from the suite's options. */
export interface HostileSettings {
  readonly inject: (topic: string, records: readonly RawRecord[]) => Promise<void>;
  readonly prefix: string;
  readonly contentTypeHeader: string;
  readonly headerName: (name: string) => boolean;
  readonly headerValue: (value: string) => boolean;
  readonly records: number;
  readonly seed: number;
}

/** Settings a scenario may read. */
export interface ScenarioSettings {
  readonly messages: number;
  readonly redeliveryTimeoutMs: number;
  readonly deliveryTimeoutMs: number;
  readonly unicodeTopics: boolean;
  readonly dropConnection: ((adapter: BrokerAdapter) => Promise<void>) | undefined;
  /** Set when the suite can inject raw records (the `injectRaw` option). */
  readonly hostile: HostileSettings | undefined;
}

/** One scenario of the suite. */
export interface Scenario {
  readonly name: ScenarioName;
  /** What it proves, in a line: the test's title. */
  readonly title: string;
  /** The reason this adapter cannot run it, or undefined when it can. */
  readonly unsupported?: (
    capabilities: AdapterCapabilities,
    settings: ScenarioSettings,
  ) => string | undefined;
  /**
   * Runs the scenario. It may resolve to a reason it could not run, found only once the adapter
   * was at work (a subscription without an optional interface): the test is then marked skipped.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a scenario that always runs returns nothing
  readonly run: (fx: Fixture, settings: ScenarioSettings) => Promise<string | undefined | void>;
}
