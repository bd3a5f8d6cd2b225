import type { Redis } from 'ioredis';
import { keys } from './keys';
import { dropLease, holdLease } from './scripts';

/** What a call to {@link StreamLease.hold} found. */
export type LeaseChange = 'taken' | 'kept' | 'lost' | 'elsewhere';

// The holder stops reading a little before its lease runs out on the server, for clock drift
// and for the time a read spends on its way.
const SAFETY = 0.8;

/**
 * The right of one member to read one stream for a group, in an ordered subscription: a key with
 * a TTL naming the member, taken when free and renewed while held. Only the holder reads the
 * stream, so the records of a key are handled by one member, in order.
 */
export class StreamLease {
  private held = false;
  private validUntil = 0;
  private readonly key: string;

  constructor(
    private readonly redis: Redis,
    stream: string,
    group: string,
    private readonly consumer: string,
    readonly ttlMs: number,
  ) {
    this.key = keys.lease(stream, group);
  }

  /** Whether this member holds the lease now, by its own clock. */
  get valid(): boolean {
    return this.held && performance.now() < this.validUntil;
  }

  /** Takes the lease if it is free, renews it if it is ours. A failed call counts as not renewed. */
  async hold(): Promise<LeaseChange> {
    const asked = performance.now();
    let answer: number;
    try {
      answer = Number(await holdLease.run(this.redis, [this.key], [this.consumer, this.ttlMs]));
    } catch (error) {
      if (this.held && !this.valid) {
        this.held = false;
        return 'lost';
      }
      throw error;
    }
    if (answer === 0) {
      const had = this.held;
      this.held = false;
      return had ? 'lost' : 'elsewhere';
    }
    this.validUntil = asked + this.ttlMs * SAFETY;
    const had = this.held;
    this.held = true;
    return had ? 'kept' : 'taken';
  }

  /** Gives the lease up, so the next member need not wait for it to run out. */
  async drop(): Promise<void> {
    this.held = false;
    await dropLease.run(this.redis, [this.key], [this.consumer]);
  }
}
