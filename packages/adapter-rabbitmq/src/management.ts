/**
 * The one thing the adapter asks RabbitMQ's management HTTP API: a queue's message counts, ready
 * and delivered-unacknowledged, which AMQP's passive declaration does not give (it counts the
 * ready ones only). The API is optional: the plugin may be off, the port closed, the user without
 * the `monitoring` tag. Then the adapter says nothing more than AMQP can, and stops asking for a
 * while, so that a dead port does not cost every call a timeout.
 *
 * @module
 */
import type { ResolvedManagement } from './options';

/** A queue's counts as the management API reports them. */
export interface ManagedCounts {
  /** Ready plus unacknowledged. */
  readonly messages: number;
  /** Delivered to a consumer and not acknowledged yet. */
  readonly unacknowledged: number;
}

/** How long the API is left alone after it did not answer, in milliseconds. */
export const UNAVAILABLE_FOR_MS = 60_000;

/**
 * Asks the management API for queue counts, and remembers for {@link UNAVAILABLE_FOR_MS} that it
 * is not there. Never rejects and never says why it fell back: the reason could only be logged,
 * and the figures it stands in for are optional.
 */
export class ManagementApi {
  private unavailableUntil = 0;
  private readonly authorization: string;

  constructor(
    private readonly settings: ResolvedManagement | false,
    private readonly now: () => number = Date.now,
  ) {
    this.authorization =
      settings === false
        ? ''
        : `Basic ${Buffer.from(`${settings.username}:${settings.password}`).toString('base64')}`;
  }

  /** Whether asking is worth it now: configured, and not found missing lately. */
  get available(): boolean {
    return this.settings !== false && this.now() >= this.unavailableUntil;
  }

  /**
   * The counts of each named queue, all asked at once; `undefined` for the whole when the API is
   * not available, and for a queue the API has no figures for yet (a queue declared moments ago
   * has none until the broker's next statistics round, every 5 s by default).
   */
  async counts(queues: readonly string[]): Promise<(ManagedCounts | undefined)[] | undefined> {
    const settings = this.settings;
    if (settings === false || !this.available || queues.length === 0) return undefined;
    const signal = AbortSignal.timeout(settings.timeoutMs);
    const answers = await Promise.all(queues.map((queue) => this.ask(settings, queue, signal)));
    if (answers.includes('unavailable')) {
      this.unavailableUntil = this.now() + UNAVAILABLE_FOR_MS;
      return undefined;
    }
    return answers as (ManagedCounts | undefined)[];
  }

  private async ask(
    settings: ResolvedManagement,
    queue: string,
    signal: AbortSignal,
  ): Promise<ManagedCounts | undefined | 'unavailable'> {
    const url = new URL(
      `api/queues/${encodeURIComponent(settings.vhost)}/${encodeURIComponent(queue)}`,
      settings.url,
    );
    try {
      const response = await fetch(url, {
        headers: { authorization: this.authorization, accept: 'application/json' },
        signal,
        redirect: 'error',
      });
      // 401 and 403 (the login or its tags), 404 (no such API, or no such vhost or queue: the
      // queue existed a moment ago over AMQP, so the address is the likelier fault), 5xx.
      if (!response.ok) {
        await response.body?.cancel();
        return 'unavailable';
      }
      return countsOf(await response.json());
    } catch {
      // Refused, unreachable, timed out, not JSON.
      return 'unavailable';
    }
  }
}

function countsOf(body: unknown): ManagedCounts | undefined {
  const { messages, messages_unacknowledged: unacknowledged } = (body ?? {}) as Record<string, unknown>;
  if (typeof messages !== 'number' || typeof unacknowledged !== 'number') return undefined;
  return { messages, unacknowledged };
}
