import type { OutboxWatch } from '@tidings/core';
import type { Notification, Pool, PoolClient } from 'pg';

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;

/**
 * `LISTEN`s on a channel with one pooled connection and calls `listener` on each notification.
 * When the connection fails it reconnects with a growing pause, and calls `listener` once it
 * listens again, since writes made meanwhile notified no one. Polling covers the gap.
 */
export class ChannelListener implements OutboxWatch {
  private client: PoolClient | undefined;
  private closed = false;
  private retryMs = RETRY_MIN_MS;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly channel: string,
    private readonly listener: () => void,
    private readonly onError: (error: Error) => void = () => undefined,
  ) {
    void this.connect();
  }

  private async connect(): Promise<void> {
    let client: PoolClient | undefined;
    try {
      client = await this.pool.connect();
      client.on('notification', this.onNotification);
      client.on('error', this.onLost);
      await client.query(`LISTEN "${this.channel}"`);
    } catch (error) {
      if (client !== undefined) this.drop(client, error);
      this.failed(error);
      return;
    }
    if (this.closed) {
      this.drop(client, undefined);
      return;
    }
    this.client = client;
    this.retryMs = RETRY_MIN_MS;
    this.listener();
  }

  private readonly onNotification = (message: Notification): void => {
    if (message.channel === this.channel) this.listener();
  };

  private readonly onLost = (error: Error): void => {
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) this.drop(client, error);
    this.failed(error);
  };

  private drop(client: PoolClient, error: unknown): void {
    client.off('notification', this.onNotification);
    client.off('error', this.onLost);
    // A client that listened must not go back to the pool: destroy it.
    client.release(error instanceof Error ? error : true);
  }

  private failed(error: unknown): void {
    // A connection that fails while it is being set up reports twice (its error event and the
    // failed query): one reconnection is enough.
    if (this.closed || this.timer !== undefined) return;
    this.onError(error instanceof Error ? error : new Error(String(error)));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect();
    }, this.retryMs);
    this.timer.unref?.();
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
  }

  /** Stops listening. A connection still being opened is dropped as soon as it is open. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) this.drop(client, undefined);
  }
}
