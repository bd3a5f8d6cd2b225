import {
  ClosedError,
  ConnectionError,
  type ConnectionState,
  type Redactor,
  withTimeout,
} from '@tidings/core/adapter';
import {
  type Channel,
  type ChannelModel,
  type ConfirmChannel,
  connect,
  type RecoveringChannelModel,
} from 'amqplib';
import { DEFAULT_FRAME_MAX } from './codec';
import { describeUrl, describeUrls, isAccessRefused } from './errors';
import { NodeRotation } from './nodes';
import type { AmqpAddress, ResolvedOptions } from './options';

/** What a link tells its adapter. */
export interface LinkEvents {
  /** Called after every change of `state`. */
  readonly onStateChange: () => void;
}

/**
 * One AMQP connection that comes back by itself. amqplib (since 1.1) reconnects with backoff and
 * jitter when asked to; channels do not survive a reconnection, so their owners (the publisher, each
 * subscription) listen for their channel's `close` and open a new one, which waits here until the
 * connection is back. Given a cluster's nodes, it connects to the first that answers and
 * reconnects to the next one in turn ({@link NodeRotation}). Every error it keeps or raises is
 * redacted: amqplib's errors and socket options may carry the URL, and the URL the password.
 */
export class Link {
  private model: RecoveringChannelModel | undefined;
  private opening: Promise<void> | undefined;
  private closed = false;
  private current: ConnectionState = 'idle';
  private error: Error | undefined;
  private blocked: string | undefined;
  private negotiatedFrameMax: number | undefined;
  /** A cluster's nodes in turn; none for a single address, which amqplib is given as it is. */
  private readonly nodes: NodeRotation | undefined;

  constructor(
    /** `publish` or `consume`: each has a connection of its own, as RabbitMQ advises. */
    readonly role: 'publish' | 'consume',
    private readonly options: ResolvedOptions,
    private readonly redactor: Redactor,
    private readonly events: LinkEvents,
  ) {
    if (options.urls.length > 1) this.nodes = new NodeRotation(options.urls, options.reconnect);
  }

  /** The node this link is connected to, or tries next. */
  private get address(): AmqpAddress {
    return this.nodes?.currentAddress ?? this.options.urls[0];
  }

  /** Where the link connects, for messages: the node, or every node of a cluster. */
  private get where(): string {
    return describeUrls(this.options.urls, this.redactor);
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** The last connection failure, redacted. */
  get lastError(): Error | undefined {
    return this.error;
  }

  /** Why the broker stopped reading from this connection (a memory or disk alarm), while it does. */
  get blockedReason(): string | undefined {
    return this.blocked;
  }

  /**
   * The largest frame the broker takes on this connection (negotiated when it opened; RabbitMQ's
   * default until then). A message's header table travels in one frame.
   */
  get frameMax(): number {
    return this.negotiatedFrameMax ?? DEFAULT_FRAME_MAX;
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
    this.setState('closed');
    const model = this.model;
    this.model = undefined;
    await model?.close().catch(() => undefined);
  }

  private setState(state: ConnectionState): void {
    if (this.current === state) return;
    this.current = state;
    this.events.onStateChange();
  }

  private async start(): Promise<void> {
    const { urls, socketOptions, connectionName, reconnect, connectTimeoutMs } = this.options;
    const { nodes } = this;
    this.setState('connecting');
    const connecting = connect(nodes?.target ?? urls[0], {
      ...socketOptions,
      clientProperties: { connection_name: `${connectionName} (${this.role})` },
      recovery: {
        initialDelay: reconnect.initialDelayMs,
        maxDelay: reconnect.maxDelayMs,
        factor: 2,
        jitter: 0.2,
        maxRetries: Number.POSITIVE_INFINITY,
        waitForConnect: false,
        ...(nodes === undefined ? {} : { calculateDelay: (attempt: number) => nodes.delayBefore(attempt) }),
      },
    });
    let model: RecoveringChannelModel;
    try {
      model = await connecting;
    } catch (error) {
      this.setState(this.closed ? 'closed' : 'failed');
      throw this.unreachable(connectTimeoutMs, error);
    }
    // A refused login is not retried until the timeout: the broker will refuse it again.
    let refuse: (error: Error) => void = () => undefined;
    const refused = new Promise<never>((_, reject) => {
      refuse = reject;
    });
    refused.catch(() => undefined);
    this.watch(model, (error) => refuse(this.refusedError(error)));
    if (this.closed) {
      await model.close().catch(() => undefined);
      throw new ClosedError(`the RabbitMQ ${this.role} connection is closed`);
    }
    this.model = model;
    try {
      await withTimeout(Promise.race([model.waitForConnect(), refused]), connectTimeoutMs, () =>
        this.unreachable(connectTimeoutMs),
      );
    } catch (error) {
      this.model = undefined;
      // Failed, until `open` is called again: what health checks and the bus's log should say.
      this.setState(this.closed ? 'closed' : 'failed');
      await model.close().catch(() => undefined);
      throw error instanceof ConnectionError || error instanceof ClosedError
        ? error
        : this.unreachable(connectTimeoutMs, error);
    }
  }

  private watch(model: RecoveringChannelModel, onRefused: (error: unknown) => void): void {
    let connectedOnce = false;
    model.on('connect', (connection: ChannelModel) => {
      if (this.closed) return;
      const frameMax = (connection.connection as unknown as { frameMax?: unknown }).frameMax;
      if (typeof frameMax === 'number' && frameMax > 0) this.negotiatedFrameMax = frameMax;
      connectedOnce = true;
      this.blocked = undefined;
      this.setState('connected');
    });
    model.on('disconnect', (error: Error) => {
      if (this.closed) return;
      this.error = this.connectionError(`lost the RabbitMQ ${this.role} connection${this.node()}`, error);
      this.setState('reconnecting');
    });
    model.on('connect-failed', (error: Error) => {
      if (this.closed) return;
      if (!connectedOnce && isAccessRefused(error)) {
        onRefused(error);
        return;
      }
      // Kept with its cause, so that a wrong password after a credentials rotation shows as such.
      this.error = connectedOnce
        ? this.connectionError(`could not reconnect to RabbitMQ (${this.role})${this.node()}`, error)
        : this.nodes === undefined
          ? this.redactor.error(error)
          : this.connectionError(describeUrl(this.address, this.redactor), error);
    });
    model.on('reconnect-failed', (error: Error) => {
      if (this.closed) return;
      this.error = this.connectionError('gave up reconnecting to RabbitMQ', error);
      this.setState('failed');
    });
    model.on('blocked', (reason: string) => {
      this.blocked = this.redactor.text(String(reason));
    });
    model.on('unblocked', () => {
      this.blocked = undefined;
    });
    // Without a listener an 'error' event would throw; the 'disconnect' that follows is what counts.
    model.on('error', (error: Error) => {
      if (this.closed) return;
      this.error = this.redactor.error(error);
    });
  }

  /** ` to <node>` when the link has several nodes to choose from: which one it was. */
  private node(): string {
    return this.nodes === undefined ? '' : ` to ${describeUrl(this.address, this.redactor)}`;
  }

  private connectionError(what: string, error: unknown): ConnectionError {
    const cause = this.redactor.error(error);
    return new ConnectionError(`${what}: ${cause.message}`, { cause });
  }

  private refusedError(error: unknown): ConnectionError {
    const cause = this.redactor.error(error);
    const user = this.userName();
    const who = user === undefined ? '' : ` for user ${JSON.stringify(user)}`;
    this.error = new ConnectionError(
      `RabbitMQ at ${describeUrl(this.address, this.redactor)} refused the login${who} (wrong user name, password or virtual host?): ${cause.message}`,
      { cause },
    );
    return this.error as ConnectionError;
  }

  private userName(): string | undefined {
    const url = this.address;
    if (typeof url !== 'string') return url.username;
    try {
      const parsed = new URL(url);
      // amqplib logs in as guest when the URL has no credentials at all.
      if (parsed.username === '' && parsed.password === '') return 'guest';
      return decodeURIComponent(parsed.username);
    } catch {
      return undefined;
    }
  }

  private unreachable(timeoutMs: number, cause?: unknown): ConnectionError {
    const reason = cause === undefined ? this.error : this.redactor.error(cause);
    const detail = reason === undefined ? '' : `: ${reason.message}`;
    return new ConnectionError(`cannot reach RabbitMQ at ${this.where} within ${timeoutMs} ms${detail}`, {
      cause: reason,
    });
  }
}
