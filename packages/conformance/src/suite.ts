import type { AdapterCapabilities, BrokerAdapter } from '@tidings/core/adapter';
import { afterAll, afterEach, describe, it } from 'vitest';
import { type Created, SuiteFixture } from './fixture';
import type { RawRecord, Scenario, ScenarioName, ScenarioSettings } from './scenario';
import { batchConsumeAll, batchKeyOrder, batchSettlement } from './scenarios/batch';
import {
  bodiesAndUnicode,
  competingConsumers,
  concurrencyWithinPrefetch,
  concurrentPublishers,
  fanOut,
  manyTopics,
  oneGroupManySubscriptions,
  publishConsumeAll,
} from './scenarios/delivery';
import { deadLetterAlwaysLands, topicRule } from './scenarios/edges';
import {
  attemptNumbers,
  deadLetter,
  deadLetterKept,
  redeliveryAfterFailure,
  retryDelay,
  unsettledRedelivered,
} from './scenarios/failure';
import { hostileInput } from './scenarios/hostile';
import { consumerLag, groupAdmin } from './scenarios/lag';
import { closeSemantics, reconnect, resume, startPosition } from './scenarios/lifecycle';
import {
  deadLetterBrowse,
  deadLetterPurge,
  deadLetterRedrive,
  deadLetterRedriveResume,
  replayFromTime,
} from './scenarios/operations';
import { keyOrdering } from './scenarios/ordering';
import { throughputSmoke } from './scenarios/throughput';

/** Every scenario, in the order the suite runs them. */
export const scenarios: readonly Scenario[] = [
  publishConsumeAll,
  manyTopics,
  oneGroupManySubscriptions,
  competingConsumers,
  fanOut,
  redeliveryAfterFailure,
  unsettledRedelivered,
  attemptNumbers,
  retryDelay,
  deadLetter,
  deadLetterKept,
  deadLetterAlwaysLands,
  keyOrdering,
  resume,
  startPosition,
  closeSemantics,
  bodiesAndUnicode,
  concurrentPublishers,
  concurrencyWithinPrefetch,
  reconnect,
  consumerLag,
  groupAdmin,
  topicRule,
  hostileInput,
  deadLetterBrowse,
  deadLetterRedrive,
  deadLetterRedriveResume,
  deadLetterPurge,
  replayFromTime,
  batchConsumeAll,
  batchSettlement,
  batchKeyOrder,
  throughputSmoke,
];

/** Settings of {@link describeAdapter}. */
export interface ConformanceOptions {
  /** Shown in the test titles, e.g. `kafka`. */
  readonly name: string;
  /**
   * Makes a new, not yet connected adapter on the broker under test. It is called several times
   * per scenario (a second process, a fresh consumer): every adapter must reach the same broker.
   */
  readonly createAdapter: () => BrokerAdapter | Promise<BrokerAdapter>;
  /** Corrections to the adapter's declared capabilities; normally leave it out. */
  readonly capabilities?: Partial<AdapterCapabilities>;
  /** Prefix of every topic and group the suite makes. Default: `tc` and a random suffix. */
  readonly namespace?: string;
  /** Deletes the topics and groups the suite made, after the last scenario. */
  readonly cleanup?: (created: Created) => Promise<void>;
  /** Makes the broker drop `adapter`'s connection(s), for the reconnect scenario. */
  readonly dropConnection?: (adapter: BrokerAdapter) => Promise<void>;
  /** The broker accepts non-ASCII topic names. Default false. */
  readonly unicodeTopics?: boolean;
  /** Records in the bulk scenario (at least 1,000). Default 1,000. */
  readonly messages?: number;
  /** How long a scenario waits for a delivery. Default 20,000 ms. */
  readonly deliveryTimeoutMs?: number;
  /** How long to wait for a redelivery after a consumer left or a connection dropped. Default 30,000 ms. */
  readonly redeliveryTimeoutMs?: number;
  /** Time limit of each scenario. Default 120,000 ms. */
  readonly scenarioTimeoutMs?: number;
  /**
   * Writes records straight into the broker with its raw client, as a foreign producer would: the
   * key where the adapter reads keys, the headers as the broker's headers (or fields), the body as
   * is. Runs the `hostile-input` scenario, which fuzzes what consumers read.
   */
  readonly injectRaw?: (topic: string, records: readonly RawRecord[]) => Promise<void>;
  /**
   * Which header names and values the broker's raw client can carry at all (NATS headers have no
   * `:` in names nor line breaks in values); the fuzzer generates only those. Default: any.
   */
  readonly rawHeaders?: {
    readonly name?: (name: string) => boolean;
    readonly value?: (value: string) => boolean;
  };
  /**
   * Records the `hostile-input` scenario writes, valid and poison. Default: the
   * `TIDINGS_FUZZ_RECORDS` environment variable, else 150. Its seed comes from `TIDINGS_FUZZ_SEED`
   * or is drawn at random and printed when the scenario fails.
   */
  readonly hostileRecords?: number;
  /** Scenarios to leave out, each with the reason shown in the output. */
  readonly skip?: Partial<Record<ScenarioName, string>>;
}

/**
 * Registers the adapter conformance suite in the calling vitest file: one test per scenario,
 * those the adapter's capabilities rule out marked skipped with the reason.
 *
 * @example
 * ```ts
 * import { describeAdapter } from '@tidings/conformance';
 * import { createMyAdapter } from '../src';
 *
 * describeAdapter({ name: 'my-broker', createAdapter: () => createMyAdapter({ url: process.env.BROKER_URL }) });
 * ```
 */
export function describeAdapter(options: ConformanceOptions): void {
  describe(`adapter conformance: ${options.name}`, () => {
    const namespace =
      options.namespace ?? `tc${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    let fixture: SuiteFixture | undefined;
    let capabilities: AdapterCapabilities | undefined;
    const created: Created = { topics: [], groups: [] };

    let settings: ScenarioSettings = {
      messages: Math.max(1_000, options.messages ?? 1_000),
      deliveryTimeoutMs: options.deliveryTimeoutMs ?? 20_000,
      redeliveryTimeoutMs: options.redeliveryTimeoutMs ?? 30_000,
      unicodeTopics: options.unicodeTopics ?? false,
      dropConnection: options.dropConnection,
      hostile: undefined,
    };

    const fixtureFor = async (): Promise<SuiteFixture> => {
      if (capabilities === undefined) {
        const probe = await options.createAdapter();
        capabilities = { ...probe.capabilities, ...options.capabilities };
        await probe.close();
      }
      if (options.injectRaw !== undefined && settings.hostile === undefined) {
        settings = {
          ...settings,
          hostile: {
            inject: options.injectRaw,
            prefix: capabilities.headerPrefix,
            contentTypeHeader: capabilities.contentTypeHeader ?? 'content-type',
            headerName: options.rawHeaders?.name ?? (() => true),
            headerValue: options.rawHeaders?.value ?? (() => true),
            records: options.hostileRecords ?? Number(process.env.TIDINGS_FUZZ_RECORDS ?? 150),
            seed: Number(process.env.TIDINGS_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31)),
          },
        };
      }
      fixture = new SuiteFixture({
        createAdapter: options.createAdapter,
        capabilities,
        namespace,
        unicodeTopics: settings.unicodeTopics,
      });
      return fixture;
    };

    afterEach(async () => {
      if (fixture === undefined) return;
      created.topics.push(...fixture.created.topics);
      created.groups.push(...fixture.created.groups);
      await fixture.release();
      fixture = undefined;
    });

    afterAll(async () => {
      await options.cleanup?.(created);
    });

    for (const scenario of scenarios) {
      it(
        `${scenario.name}: ${scenario.title}`,
        async (context) => {
          const skipped = options.skip?.[scenario.name];
          if (skipped !== undefined) context.skip(skipped);
          const fx = await fixtureFor();
          const unsupported = scenario.unsupported?.(fx.capabilities, settings);
          if (unsupported !== undefined) context.skip(unsupported);
          const cannot = await scenario.run(fx, settings);
          if (typeof cannot === 'string') context.skip(cannot);
        },
        options.scenarioTimeoutMs ?? 120_000,
      );
    }
  });
}
