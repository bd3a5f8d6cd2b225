import { ClosedError, ConnectionError, type ConnectionState, toError } from '@tidings/core/adapter';
import { type Channel, type ConfirmChannel, connect, type RecoveringChannelModel } from 'amqplib';
import { withTimeout } from './deadline';
import { redactUrl } from './errors';
import type { ResolvedOptions } from './options';

/**
 * One AMQP connection that comes back by itself. amqplib (since 1.1) reconnects with backoff and
 * jitter when asked to; channels do not survive a reconnection, so their owners (the publisher, each
 * subscription) listen for their channel's `close` and open a new one, which waits here until the
 * connection is back.
 */
export class Link {
  private model: RecoveringChannelModel | undefined;
  private opening: Promise<void> | undefined;
  private closed = false;
  private current: ConnectionState = 'idle';
  private error: Error | undefined;
  private blocked: string | undefined;

  constructor(
    /** `publish` or `consume`: each has a connection of its own, as RabbitMQ advises. */
    readonly role: 'publish' | 'consume',
    private readonly options: ResolvedOptions,
  ) {}

  get state(): ConnectionState {
    return this.current;
  }

  /** The last connection failure. */
  get lastError(): Error | undefined {
    return this.error;
  }

  /** Why the broker stopped reading from this connection (a memory or disk alarm), while it does. */
  get blockedReason(): string | undefined {
    return this.blocked;
  }

  /** Connects, or waits for the first connection; idempotent. */
  open(): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError(`the RabbitMQ ${this.role} connection is closed`));
    this.opening ??= this.start().catch((error: unknown) => {
      this.opening = undefined;
      throw error;
    });
    return this.opening;
  }

  /** A new channel, once the connection is (back) up; rejects when the link closes first. */
  async createChannel(): Promise<Channel> {
    return (await this.ready()).createChannel();
  }

  /** A new channel in confirm mode, once the connection is (back) up. */
  async createConfirmChannel(): Promise<ConfirmChannel> {
    return (await this.ready()).createConfirmChannel();
  }

  private async ready(): Promise<RecoveringChannelModel> {
    await this.open();
    if (this.model === undefined) throw new ClosedError(`the RabbitMQ ${this.role} connection is closed`);
    return this.model;
  }

  /** Closes the connection and stops reconnecting. */
  async close(): Promise<void> {
    this.closed = true;
    this.current = 'closed';
    const model = this.model;
    this.model = undefined;
    await model?.close().catch(() => undefined);
  }

  private async start(): Promise<void> {
    const { url, socketOptions, connectionName, reconnect, connectTimeoutMs } = this.options;
    this.current = 'connecting';
    const model = await connect(url, {
      ...socketOptions,
      clientProperties: { connection_name: `${connectionName} (${this.role})` },
      recovery: {
        initialDelay: reconnect.initialDelayMs,
        maxDelay: reconnect.maxDelayMs,
        factor: 2,
        jitter: 0.2,
        maxRetries: Number.POSITIVE_INFINITY,
        waitForConnect: false,
      },
    });
    this.watch(model);
    if (this.closed) {
      await model.close().catch(() => undefined);
      throw new ClosedError(`the RabbitMQ ${this.role} connection is closed`);
    }
    this.model = model;
    try {
      await withTimeout(model.waitForConnect(), connectTimeoutMs, () => this.unreachable(connectTimeoutMs));
    } catch (error) {
      this.model = undefined;
      this.current = this.closed ? 'closed' : 'idle';
      await model.close().catch(() => undefined);
      throw error instanceof ConnectionError || error instanceof ClosedError
        ? error
        : this.unreachable(connectTimeoutMs, error);
    }
  }

  private watch(model: RecoveringChannelModel): void {
    model.on('connect', () => {
      if (this.closed) return;
      this.current = 'connected';
      this.blocked = undefined;
    });
    model.on('disconnect', (error: Error) => {
      if (this.closed) return;
      this.current = 'reconnecting';
      this.error = new ConnectionError(`lost the RabbitMQ ${this.role} connection: ${error.message}`, {
        cause: error,
      });
    });
    model.on('connect-failed', (error: Error) => {
      this.error = toError(error);
    });
    model.on('reconnect-failed', (error: Error) => {
      if (this.closed) return;
      this.current = 'failed';
      this.error = new ConnectionError(`gave up reconnecting to RabbitMQ: ${error.message}`, {
        cause: error,
      });
    });
    model.on('blocked', (reason: string) => {
      this.blocked = reason;
    });
    model.on('unblocked', () => {
      this.blocked = undefined;
    });
    // Without a listener an 'error' event would throw; the 'disconnect' that follows is what counts.
    model.on('error', (error: Error) => {
      this.error = toError(error);
    });
  }

  private unreachable(timeoutMs: number, cause?: unknown): ConnectionError {
    const reason = cause ?? this.error;
    const detail = reason === undefined ? '' : `: ${toError(reason).message}`;
    return new ConnectionError(
      `cannot reach RabbitMQ at ${redactUrl(this.options.url)} within ${timeoutMs} ms${detail}`,
      { cause: reason },
    );
  }
}
