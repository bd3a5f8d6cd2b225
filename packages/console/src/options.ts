import type {
  AnyEventContract,
  ApplicationDescription,
  BrokerAdapter,
  ProducerDeclaration,
  SubscriptionDeclaration,
} from '@tidings/core';
import { ConfigError } from '@tidings/core';

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
export interface ConsoleOptions extends ApplicationDescription {
  /** The adapter the console reads through. The console never closes it: its owner does. */
  readonly adapter: BrokerAdapter;
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
  readonly subscriptions: readonly SubscriptionDeclaration[];
  readonly producers: readonly ProducerDeclaration[];
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
