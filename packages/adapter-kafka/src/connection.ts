import type { ConnectionState, ConnectionStateReporter, Redactor } from '@tidings/core/adapter';
import { sleep } from '@tidings/core/adapter';
import type { KafkaAdminClient } from './client/admin';
import type { ConnectedAdmin, ConnectionWatcher, InstrumentedClient, KafkaClient } from './client/client';
import type { KafkaConsumerFactory } from './client/consumer';
import { kafkajsClient } from './client/kafkajs/client';
import { platformaticClient } from './client/platformatic/client';
import type { KafkaProducerFactory } from './client/producer';
import type { KafkaLogReaderClient } from './client/reader';
import { connectionError } from './errors';
import type { ResolvedKafkaOptions } from './options';

/** Listens to the adapter's connection state. */
type StateListener = (state: ConnectionState, error?: Error) => void;

export type { InstrumentedClient } from './client/client';

/** Pauses between probes of a lost connection: from 0.5 s, doubling, to 5 s. */
const PROBE_MS = { first: 500, max: 5_000 } as const;

/**
 * @internal The adapter's connection state and its listeners ({@link ConnectionStateReporter}).
 *
 * kafkajs reconnects by itself and says little about it, so the monitor reads the signs: a socket
 * of the adapter failing (refused, reset), a request timing out, or a consumer crashing on a
 * connection error means the connection is lost; the first answer from a broker to a request sent
 * after that means it is back. Answers are only listened to while reconnecting, so the healthy path
 * pays nothing for them. An adapter with nothing to do would send no request, and so never learn
 * that the broker is back: while reconnecting, the monitor also asks the cluster for its metadata
 * now and then (`probe`).
 */
export class ConnectionMonitor implements ConnectionStateReporter, ConnectionWatcher {
  private current: ConnectionState = 'idle';
  private readonly listeners = new Set<StateListener>();
  /** Watched clients, with the remover of their answer listener while reconnecting. */
  private readonly clients = new Map<InstrumentedClient, (() => void) | undefined>();
  private lostAt = 0;
  private stopped = false;
  private probing = false;
  private readonly halt = new AbortController();

  /**
   * @param probe a cheap request to the cluster (a metadata request), which resolves once a broker
   *   answered it.
   */
  constructor(
    private readonly redactor: Redactor,
    private readonly probe?: () => Promise<unknown>,
  ) {}

  get state(): ConnectionState {
    return this.current;
  }

  onStateChange(listener: StateListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Moves to `state`, telling every listener when it is a change; `error` is redacted first. */
  set(state: ConnectionState, error?: unknown): void {
    if (state === this.current || (this.stopped && state !== 'closed')) return;
    this.current = state;
    if (state === 'reconnecting') {
      this.lostAt = Date.now();
      for (const client of this.clients.keys()) this.listenForAnswers(client);
      void this.probeUntilBack();
    } else {
      for (const [client, remove] of this.clients) {
        remove?.();
        this.clients.set(client, undefined);
      }
    }
    const reported = error === undefined ? undefined : this.redactor.error(error);
    for (const listener of [...this.listeners]) {
      try {
        listener(state, reported);
      } catch {
        // A listener that throws must not break the adapter, nor keep the others from hearing.
      }
    }
  }

  /** The connection showed itself broken; kafkajs is retrying. Only a connected adapter can lose it. */
  lost(error: unknown): void {
    if (this.current === 'connected') this.set('reconnecting', error);
  }

  /** A broker answered: the connection is back. */
  restored(): void {
    if (this.current === 'reconnecting') this.set('connected');
  }

  /** From now on only `closed` is reported: the adapter is closing its own connections. */
  stop(): void {
    this.stopped = true;
    this.halt.abort();
  }

  /** Watches a kafkajs client's network events; returns the function that stops it. */
  watch(client: InstrumentedClient): () => void {
    const removeTimeout = client.on(client.events.REQUEST_TIMEOUT, ({ payload }) => {
      this.lost(
        new Error(`kafka: ${payload.apiName ?? 'a request'} to ${payload.broker ?? 'a broker'} timed out`),
      );
    });
    this.clients.set(client, undefined);
    if (this.current === 'reconnecting') this.listenForAnswers(client);
    return () => {
      removeTimeout();
      this.clients.get(client)?.();
      this.clients.delete(client);
    };
  }

  private async probeUntilBack(): Promise<void> {
    if (this.probe === undefined || this.probing) return;
    this.probing = true;
    try {
      for (let attempt = 0; this.current === 'reconnecting'; attempt++) {
        const pause = Math.min(PROBE_MS.first * 2 ** attempt, PROBE_MS.max);
        if (!(await sleep(pause, this.halt.signal)) || this.current !== 'reconnecting') return;
        try {
          await this.probe();
          this.restored();
        } catch {
          // Still down; kafkajs is retrying too.
        }
      }
    } finally {
      this.probing = false;
    }
  }

  private listenForAnswers(client: InstrumentedClient): void {
    if (this.clients.get(client) !== undefined) return;
    const remove = client.on(client.events.REQUEST, ({ payload }) => {
      // An answer to a request sent before the loss says nothing about the connection now.
      if ((payload.sentAt ?? 0) >= this.lostAt) this.restored();
    });
    this.clients.set(client, remove);
  }
}

/**
 * @internal The adapter's client (`client/client.ts`): the one its producers, consumers, reader and
 * admin come from, reporting to the {@link ConnectionMonitor}, and the admin connection the adapter
 * shares (topics, committed positions, lag, and the monitor's probes).
 */
export class KafkaConnection {
  readonly monitor: ConnectionMonitor;
  /** The client the adapter runs on: `options.client`. */
  private readonly client: KafkaClient;
  private adminClient: Promise<ConnectedAdmin> | undefined;

  constructor(private readonly options: ResolvedKafkaOptions) {
    this.monitor = new ConnectionMonitor(options.redactor, async () => (await this.admin()).ping());
    this.client =
      options.client === 'platformatic'
        ? platformaticClient(options, this.monitor)
        : kafkajsClient(options, this.monitor);
  }

  /** The producers of the client the adapter runs on. */
  get producers(): KafkaProducerFactory {
    return this.client.producers;
  }

  /** The group consumers of the client the adapter runs on. */
  get consumers(): KafkaConsumerFactory {
    return this.client.consumers;
  }

  /** The group-less reader of the client the adapter runs on. */
  get reader(): KafkaLogReaderClient {
    return this.client.reader;
  }

  /**
   * The shared admin client, connected on first use; rejects with a `ConnectionError` when the
   * brokers cannot be reached, and connects anew on the next call.
   */
  async admin(): Promise<KafkaAdminClient> {
    this.adminClient ??= this.client.connectAdmin().catch((error: unknown) => {
      this.adminClient = undefined;
      throw connectionError(error, this.options.brokers, this.options.redactor);
    });
    return (await this.adminClient).admin;
  }

  /** Disconnects the admin client, if one was connected. */
  async closeAdmin(): Promise<void> {
    const admin = await this.adminClient?.catch(() => undefined);
    await admin?.disconnect();
  }
}
