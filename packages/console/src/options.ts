import type { AnyEventContract, BrokerAdapter, Codec, DeadLetterTopicNamer, TopicNamer } from '@tidings/core';
import { ConfigError } from '@tidings/core';

/**
 * A consumer group the application runs and the events it consumes (the shape of the CLI config's
 * `subscriptions`, so a `tidings.config.ts` passes straight through).
 *
 * @example
 * ```ts
 * const billing: ConsoleSubscription = { group: 'billing', events: [OrderPlaced] };
 * ```
 */
export interface ConsoleSubscription {
  readonly group: string;
  readonly events: readonly AnyEventContract[];
}

/**
 * A service that publishes events, and which (the CLI config's `producers`).
 *
 * @example
 * ```ts
 * const shop: ConsoleProducer = { name: 'order-api', events: [OrderPlaced] };
 * ```
 */
export interface ConsoleProducer {
  readonly name: string;
  readonly events: readonly AnyEventContract[];
}

/**
 * Settings of {@link createConsoleHandler} and {@link startConsole}. Structurally a superset of the
 * CLI's `TidingsConfig` once its adapter is made, so the CLI passes its config through.
 *
 * @example
 * ```ts
 * const options: ConsoleOptions = {
 *   adapter,
 *   events: [OrderPlaced],
 *   subscriptions: [{ group: 'billing', events: [OrderPlaced] }],
 *   producers: [{ name: 'order-api', events: [OrderPlaced] }],
 *   actions: { token: process.env.TIDINGS_CONSOLE_TOKEN! },
 * };
 * ```
 */
export interface ConsoleOptions {
  /** The adapter the console reads through. The console never closes it: its owner does. */
  readonly adapter: BrokerAdapter;
  /** The contracts the catalog lists; dead letters and tailed records are decoded by them. */
  readonly events?: readonly AnyEventContract[];
  /** The consumer groups the application runs (the flow, the lag and the dead letters). */
  readonly subscriptions?: readonly ConsoleSubscription[];
  /** The services that publish (the flow's first column). */
  readonly producers?: readonly ConsoleProducer[];
  /** Topic of a contract, as given to the bus. Default: the contract's `topic`, else its `type`. */
  readonly topic?: TopicNamer;
  /** Dead-letter topic of a topic and group, as given to the bus. Default `<topic>.<group>.dlq`. */
  readonly deadLetterTopic?: DeadLetterTopicNamer;
  /** Codecs, as given to the bus. Default: JSON. */
  readonly codecs?: readonly Codec[];
  /**
   * Redrive and purge of dead letters, allowed to requests that carry this token as
   * `Authorization: Bearer <token>`. Default `false`: the console is read-only.
   */
  readonly actions?: { readonly token: string } | false;
  /**
   * The path the console is served under (`/ops/events`), when the handler is given requests
   * whose URL still carries it. Default: none (Express's `app.use(path, handler)` strips it).
   */
  readonly basePath?: string;
  /**
   * The `Host` header values (`127.0.0.1:4180`) a request may carry; others are refused.
   * {@link startConsole} sets the loopback names when it listens on a loopback address.
   * Default: any (a host application checks its own).
   */
  readonly allowedHosts?: readonly string[];
  /** How often the lag of the groups is read while a page watches it, in ms. Default 1000. */
  readonly lagIntervalMs?: number;
  /** How many lag readings each group keeps for its chart. Default 300. */
  readonly lagHistory?: number;
}

/** Options with defaults filled and checked. */
export interface ResolvedConsoleOptions extends ConsoleOptions {
  readonly events: readonly AnyEventContract[];
  readonly subscriptions: readonly ConsoleSubscription[];
  readonly producers: readonly ConsoleProducer[];
  readonly actions: { readonly token: string } | false;
  readonly basePath: string;
  readonly lagIntervalMs: number;
  readonly lagHistory: number;
}

/** The shortest token accepted: anything shorter is guessable. */
export const MIN_TOKEN_LENGTH = 16;

/** Fills defaults and fails fast on a bad option, naming it. */
export function resolveConsoleOptions(options: ConsoleOptions): ResolvedConsoleOptions {
  if (options === null || typeof options !== 'object') {
    throw new ConfigError('options', 'the console needs an options object');
  }
  const adapter = options.adapter as Partial<BrokerAdapter> | undefined;
  if (adapter === undefined || typeof adapter.subscribe !== 'function') {
    throw new ConfigError('adapter', 'must be a BrokerAdapter (createRedisStreamsAdapter(...), ...)');
  }
  const actions = options.actions ?? false;
  if (actions !== false) {
    if (typeof actions?.token !== 'string' || actions.token.length < MIN_TOKEN_LENGTH) {
      throw new ConfigError('actions.token', `must be a string of at least ${MIN_TOKEN_LENGTH} characters`);
    }
  }
  const basePath = (options.basePath ?? '').replace(/\/+$/, '');
  if (basePath !== '' && !/^\/[\w\-./~]*$/.test(basePath)) {
    throw new ConfigError('basePath', `"${options.basePath}" must be a URL path starting with /`);
  }
  const lagIntervalMs = options.lagIntervalMs ?? 1_000;
  if (!Number.isFinite(lagIntervalMs) || lagIntervalMs < 100) {
    throw new ConfigError('lagIntervalMs', 'must be a number of milliseconds, at least 100');
  }
  const lagHistory = options.lagHistory ?? 300;
  if (!Number.isInteger(lagHistory) || lagHistory < 2) {
    throw new ConfigError('lagHistory', 'must be an integer, at least 2');
  }
  for (const [i, subscription] of (options.subscriptions ?? []).entries()) {
    if (typeof subscription?.group !== 'string' || !Array.isArray(subscription.events)) {
      throw new ConfigError(`subscriptions[${i}]`, 'needs a group name and an array of events');
    }
  }
  for (const [i, producer] of (options.producers ?? []).entries()) {
    if (typeof producer?.name !== 'string' || !Array.isArray(producer.events)) {
      throw new ConfigError(`producers[${i}]`, 'needs a name and an array of events');
    }
  }
  const allowedHosts = options.allowedHosts;
  if (allowedHosts !== undefined && (!Array.isArray(allowedHosts) || allowedHosts.length === 0)) {
    throw new ConfigError('allowedHosts', 'must be a non-empty list of host:port values');
  }
  return {
    ...options,
    ...(allowedHosts === undefined ? {} : { allowedHosts: allowedHosts.map((name) => name.toLowerCase()) }),
    events: options.events ?? [],
    subscriptions: options.subscriptions ?? [],
    producers: options.producers ?? [],
    actions,
    basePath,
    lagIntervalMs,
    lagHistory,
  };
}
