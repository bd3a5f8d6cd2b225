import { ConnectionError, type ConnectionState, type Redactor } from '@tidings/core/adapter';
import { connect, DebugEvents, Events, type NatsConnection } from 'nats';
import { closedError, connectionFailure } from './errors';
import type { ResolvedConnectionOptions } from './options';

/** Told of every change of the link's state, with the error behind it when there is one. */
export type StateListener = (state: ConnectionState, error?: Error) => void;

/** What a subscription hears about the connection. */
export interface LinkListener {
  /** The connection came back after a loss: pull requests and interest must be renewed. */
  onReconnect(): void;
}

/**
 * Tells listeners each time an adapter's `state` changes (the bus logs "connection lost;
 * reconnecting" and "connection restored" from it). The adapter calls {@link changed} wherever
 * its state may have changed; listeners hear of real changes only, once each.
 */
export class StateReporter {
  private last: ConnectionState;
  private readonly listeners = new Set<StateListener>();

  constructor(private readonly current: () => ConnectionState) {
    this.last = current();
  }

  listen(listener: StateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The state may have changed; `error` says why, when it changed for the worse. */
  changed(error?: Error): void {
    const state = this.current();
    if (state === this.last) return;
    this.last = state;
    for (const listener of this.listeners) {
      try {
        listener(state, error);
      } catch {
        // A listener's failure is its own; the adapter goes on.
      }
    }
  }
}

/**
 * The adapter's connection: opens it (or adopts the caller's), follows its state through the
 * client's status events (disconnect, reconnecting, reconnect, error, close) and reports each
 * change, tells subscriptions when it came back, and closes it if it owns it. Every error it
 * raises or reports has the connection's secrets removed.
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
  private readonly reporter = new StateReporter(() => this.current);
  /** The last connection problem, for health reports; free of secrets. */
  lastError: Error | undefined;

  constructor(
    private readonly options: ResolvedConnectionOptions,
    private readonly adapterName: string,
  ) {}

  get state(): ConnectionState {
    return this.current;
  }

  /** Removes the connection's secrets (passwords, tokens, URL credentials) from text and errors. */
  get redactor(): Redactor {
    return this.options.redactor;
  }

  /** Calls `listener` after each change of {@link state}; the returned function stops it. */
  onStateChange(listener: StateListener): () => void {
    return this.reporter.listen(listener);
  }

  private setState(state: ConnectionState, error?: Error): void {
    if (error !== undefined) this.lastError = error;
    this.current = state;
    this.reporter.changed(error);
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
      throw new ConnectionError(
        `cannot ${what} on the ${this.adapterName} adapter: not connected; call connect() first`,
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
      this.setState('failed', error as Error);
      throw error;
    });
    return this.opening;
  }

  private async connect(): Promise<NatsConnection> {
    this.setState('connecting');
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
        throw connectionFailure(error, `cannot connect to NATS at ${options.where}`, options.redactor);
      }
    } else if (nc.isClosed()) {
      throw new ConnectionError('cannot use the NATS connection: the given connection is closed');
    }
    this.nc = nc;
    this.follow(nc);
    this.setState('connected');
    return nc;
  }

  private follow(nc: NatsConnection): void {
    const { redactor } = this.options;
    void (async () => {
      const statuses = nc.status();
      this.statuses = statuses as { stop?: () => void };
      for await (const status of statuses) {
        if (this.closing !== undefined) return;
        switch (status.type) {
          case Events.Disconnect: {
            const where = redactor.text(String(status.data));
            this.setState('reconnecting', new ConnectionError(`lost the connection to NATS at ${where}`));
            const drop = this.drop;
            this.drop = undefined;
            drop?.reject(
              new ConnectionError(
                `lost the connection to NATS at ${where} before the server answered; the record may or may not be stored (publish again: the duplicate window drops a repeat)`,
              ),
            );
            break;
          }
          case DebugEvents.Reconnecting:
            this.setState('reconnecting');
            break;
          case Events.Reconnect: {
            this.setState('connected');
            const waiting = this.reconnected;
            this.reconnected = [];
            for (const wake of waiting) wake();
            for (const listener of this.listeners) listener.onReconnect();
            break;
          }
          case Events.Error:
            // An authorization or permission error from the server (nats.js reports its code).
            this.lastError = new ConnectionError(
              `the NATS server reported an error: ${redactor.text(String(status.data))}`,
            );
            break;
          default:
        }
      }
    })();
    void nc.closed().then((error) => {
      if (this.closing !== undefined) return;
      // Closed by someone else (a caller-owned connection), or the client gave up reconnecting
      // (an authorization error twice in a row, or the reconnect attempts ran out).
      const why =
        error instanceof Error
          ? connectionFailure(error, 'the NATS connection was closed', redactor)
          : new ConnectionError('the NATS connection was closed', {
              cause: this.lastError ?? (error === undefined ? undefined : redactor.error(error)),
            });
      this.setState('failed', why);
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
      this.setState('closed');
    })();
    return this.closing;
  }
}
