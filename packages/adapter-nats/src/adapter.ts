import {
  type AdapterCapabilities,
  type AdapterSubscription,
  type BrokerAdapter,
  type CloseOptions,
  ConfigError,
  type ConnectionState,
  type ConnectionStateReporter,
  checkSubscribeSpec,
  type OutgoingRecord,
  type RecordHandler,
  type SettlementObserver,
  type SubscribeSpec,
} from '@tidings/core/adapter';
import type { NatsConnection } from 'nats';
import { Link, type StateListener, StateReporter } from './connection';
import { closedError, connectionFailure } from './errors';
import type { ResolvedConnectionOptions } from './options';
import type { StartableSubscription, SubscriptionParts } from './subscription';

/**
 * A Tidings adapter on NATS, with access to the connection it runs on.
 *
 * @example
 * ```ts
 * const adapter = createNatsAdapter();
 * await adapter.connect();
 * const kv = await adapter.connection!.jetstream().views.kv('settings');
 * ```
 */
export interface NatsAdapter extends BrokerAdapter {
  /**
   * The NATS connection once `connect()` has opened it, for what Tidings does not cover (key-value
   * buckets, request-reply, stream administration); undefined before.
   */
  readonly connection: NatsConnection | undefined;
}

/**
 * What the adapter of either mode does the same way: its connection and its state reports,
 * `connect` once, `subscribe` (the kit's spec check, then the mode's subscription, started and
 * tracked) and `close` (the subscriptions, then the connection). Each mode's adapter adds what it
 * opens on the connection, how it publishes and what its subscriptions are:
 * `core-nats/adapter.ts`, `jetstream/adapter.ts`.
 */
export abstract class NatsAdapterBase implements NatsAdapter, ConnectionStateReporter {
  readonly capabilities: AdapterCapabilities;
  protected readonly link: Link;
  /** Set while `connect()` runs, and after it succeeded. */
  protected connecting: Promise<void> | undefined;
  private readonly reporter: StateReporter;
  private shutdown: Promise<void> | undefined;
  private readonly subscriptions = new Set<StartableSubscription>();

  constructor(
    readonly name: string,
    private readonly settings: ResolvedConnectionOptions,
    capabilities: AdapterCapabilities,
  ) {
    this.link = new Link(settings, name);
    this.capabilities = Object.freeze({ ...capabilities, maxMessageBytes: settings.maxMessageBytes });
    this.reporter = new StateReporter(() => this.state);
    this.link.onStateChange((_state, error) => this.reporter.changed(error));
  }

  get state(): ConnectionState {
    return this.link.state;
  }

  onStateChange(listener: StateListener): () => void {
    return this.reporter.listen(listener);
  }

  /** Whether `close()` was called. */
  get closing(): boolean {
    return this.shutdown !== undefined;
  }

  get connection(): NatsConnection | undefined {
    return this.link.connection;
  }

  async connect(): Promise<void> {
    if (this.closing) throw closedError('connect', this.name);
    this.connecting ??= this.open().then(
      () => this.reporter.changed(),
      (error: unknown) => {
        this.connecting = undefined;
        this.reporter.changed(error as Error);
        throw error;
      },
    );
    await this.connecting;
  }

  /** Opens the connection and what the mode needs on it; a failure may be retried by calling again. */
  protected abstract open(): Promise<void>;

  abstract publish(records: readonly OutgoingRecord[]): Promise<void>;

  async subscribe(
    spec: SubscribeSpec,
    handler: RecordHandler,
    observer?: SettlementObserver,
  ): Promise<AdapterSubscription> {
    if (this.closing) throw closedError('subscribe', this.name);
    checkSubscribeSpec(spec, this.capabilities);
    const subscription = this.createSubscription({
      spec,
      handler,
      observer,
      onClosed: () => this.subscriptions.delete(subscription),
    });
    this.subscriptions.add(subscription);
    try {
      await subscription.start();
    } catch (error) {
      // A failed start releases what it made.
      await subscription.close({ signal: AbortSignal.abort() });
      throw error instanceof ConfigError
        ? error
        : connectionFailure(error, `cannot subscribe group "${spec.group}"`, this.settings.redactor);
    }
    if (this.closing) {
      // Started after the adapter began to close, so not among the subscriptions it closed.
      await subscription.close();
      throw closedError('subscribe', this.name);
    }
    return subscription;
  }

  /** The mode's subscription, not started yet. */
  protected abstract createSubscription(parts: SubscriptionParts): StartableSubscription;

  close(options: CloseOptions = {}): Promise<void> {
    this.shutdown ??= (async () => {
      await this.connecting?.catch(() => undefined);
      await Promise.all([...this.subscriptions].map((subscription) => subscription.close(options)));
      await this.link.close();
      this.reporter.changed();
    })();
    return this.shutdown;
  }
}
