import { ConnectionError, type ConnectionState } from '@tidings/core/adapter';
import { connect, DebugEvents, Events, type NatsConnection } from 'nats';
import { closedError, connectionFailure } from './errors';
import type { ResolvedConnectionOptions } from './options';

/** What a subscription hears about the connection. */
export interface LinkListener {
  /** The connection came back after a loss: pull requests and interest must be renewed. */
  onReconnect(): void;
}

/**
 * The adapter's connection: opens it (or adopts the caller's), follows its state through the
 * client's status events, tells subscriptions when it came back, and closes it if it owns it.
 */
export class Link {
  private nc: NatsConnection | undefined;
  private opening: Promise<NatsConnection> | undefined;
  private closing: Promise<void> | undefined;
  private current: ConnectionState = 'idle';
  private readonly listeners = new Set<LinkListener>();
  private drop: { promise: Promise<never>; reject: (error: Error) => void } | undefined;
  private reconnected: (() => void)[] = [];
  private statuses: { stop?: () => void } | undefined;
  /** The last connection problem, for health reports. */
  lastError: Error | undefined;

  constructor(
    private readonly options: ResolvedConnectionOptions,
    private readonly adapterName: string,
  ) {}

  get state(): ConnectionState {
    return this.current;
  }

  /** The connection, once open. */
  get connection(): NatsConnection | undefined {
    return this.nc;
  }

  /** Whether `close()` was called. */
  get isClosing(): boolean {
    return this.closing !== undefined;
  }

  /** The open connection, or a `ClosedError` / `ConnectionError` saying why there is none. */
  require(what: string): NatsConnection {
    if (this.closing !== undefined) throw closedError(what, this.adapterName);
    if (this.nc === undefined) {
      throw connectionFailure(
        new Error('not connected; call connect() first'),
        `cannot ${what} on the ${this.adapterName} adapter`,
      );
    }
    return this.nc;
  }

  /**
   * A promise that rejects when the connection is next lost. A request in flight then has lost
   * its answer (nats.js would only give up at its timeout): racing it against this fails it at
   * once, with a `ConnectionError`, and the caller may retry.
   */
  whenDropped(): Promise<never> {
    if (this.drop === undefined) {
      let reject!: (error: Error) => void;
      const promise = new Promise<never>((_, r) => {
        reject = r;
      });
      promise.catch(() => undefined);
      this.drop = { promise, reject };
    }
    return this.drop.promise;
  }

  /**
   * Resolves once the connection is up, at once when it is; rejects with a `ConnectionError` if it
   * is not back within `timeoutMs`. A request sent while the client reconnects may never be
   * answered, so requests wait for the connection instead.
   */
  whenConnected(timeoutMs: number): Promise<void> {
    if (this.current === 'connected') return Promise.resolve();
    if (this.closing !== undefined) return Promise.reject(closedError('publish', this.adapterName));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.reconnected = this.reconnected.filter((wake) => wake !== done);
        reject(new ConnectionError(`the connection to NATS was not back within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.reconnected.push(done);
    });
  }

  listen(listener: LinkListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Opens the connection once; a failed attempt may be retried by calling again. */
  open(): Promise<NatsConnection> {
    if (this.closing !== undefined) return Promise.reject(closedError('connect', this.adapterName));
    this.opening ??= this.connect().catch((error: unknown) => {
      this.opening = undefined;
      this.current = 'failed';
      this.lastError = error as Error;
      throw error;
    });
    return this.opening;
  }

  private async connect(): Promise<NatsConnection> {
    this.current = 'connecting';
    const { options } = this;
    let nc = options.connection;
    if (nc === undefined) {
      try {
        nc = await connect({
          name: `tidings-${this.adapterName}`,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 1_000,
          timeout: options.connectTimeoutMs,
          // The adapter turns failures into its own typed errors; an Error (and its stack) captured
          // for every publish's request would cost a fifth of the publish path.
          noAsyncTraces: true,
          ...options.connectionOptions,
          servers: options.servers,
        });
      } catch (error) {
        throw connectionFailure(error, `cannot connect to NATS at ${String(options.servers)}`);
      }
    } else if (nc.isClosed()) {
      throw connectionFailure(new Error('the given connection is closed'), 'cannot use the NATS connection');
    }
    this.nc = nc;
    this.current = 'connected';
    this.follow(nc);
    return nc;
  }

  private follow(nc: NatsConnection): void {
    void (async () => {
      const statuses = nc.status();
      this.statuses = statuses as { stop?: () => void };
      for await (const status of statuses) {
        if (this.closing !== undefined) return;
        switch (status.type) {
          case Events.Disconnect: {
            this.current = 'reconnecting';
            this.lastError = new ConnectionError(`lost the connection to NATS at ${String(status.data)}`);
            const drop = this.drop;
            this.drop = undefined;
            drop?.reject(
              new ConnectionError(
                `lost the connection to NATS at ${String(status.data)} before the server answered; the record may or may not be stored (publish again: the duplicate window drops a repeat)`,
              ),
            );
            break;
          }
          case Events.Reconnect: {
            this.current = 'connected';
            const waiting = this.reconnected;
            this.reconnected = [];
            for (const wake of waiting) wake();
            for (const listener of this.listeners) listener.onReconnect();
            break;
          }
          case Events.Error:
            this.lastError = status.data instanceof Error ? status.data : new Error(String(status.data));
            break;
          case DebugEvents.Reconnecting:
            this.current = 'reconnecting';
            break;
          default:
        }
      }
    })();
    void nc.closed().then((error) => {
      if (this.closing !== undefined) return;
      // Closed by someone else (a caller-owned connection, or reconnects gave up).
      this.current = 'failed';
      this.lastError = error instanceof Error ? error : new Error('the NATS connection was closed');
    });
  }

  /** Waits until the server has seen everything sent so far (acks, naks, publishes). */
  async flush(timeoutMs: number): Promise<void> {
    const nc = this.nc;
    if (nc === undefined || nc.isClosed()) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        nc.flush(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
    } catch {
      // A flush that fails means the connection is gone; what it carried is redelivered.
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the connection if the adapter opened it. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.opening?.catch(() => undefined);
      // A connection the caller owns outlives the adapter: stop listening to it.
      this.statuses?.stop?.();
      const nc = this.nc;
      if (nc !== undefined && this.options.connection === undefined && !nc.isClosed()) {
        await this.flush(this.options.publishTimeoutMs);
        await nc.close().catch(() => undefined);
      }
      this.current = 'closed';
    })();
    return this.closing;
  }
}
