import type { RedisClient } from './connection';
import { keys } from './keys';
import { dropLease, holdLease } from './scripts';

/** What a call to {@link StreamLease.hold} found. */
export type LeaseChange = 'taken' | 'kept' | 'lost' | 'elsewhere';

// The holder stops reading a little before its lease runs out on the server, for clock drift
// and for the time a read spends on its way. Its validity counts from when the renewal was SENT,
// so a slow answer shortens it rather than stretching it past the server's expiry.
const SAFETY = 0.8;

/**
 * The right of one member to read one stream for a group, in an ordered subscription: a key with
 * a TTL naming the member, taken when free and renewed while held. Only the holder reads the
 * stream, so the records of a key are handled by one member, in order.
 *
 * The TTL is short (`leaseTtlMs`, 5 s by default) so that a member killed without closing holds
 * its streams only that long. It is renewed every third of the TTL by a heartbeat of its own
 * (`OrderedStreams.heartbeat`), whatever the handlers do, so a long handler keeps it; a renewal
 * that comes late (a stalled event loop, a slow server) makes the holder stop starting handlers
 * and reading at four fifths of the TTL, before the server lets another member take it.
 */
export class StreamLease {
  private held = false;
  private validUntil = 0;
  private readonly key: string;
  // Calls run one after the other: the heartbeat's renewal and the take-over task's drop may
  // overlap, and a renewal answered after a drop must not make the member think it still holds it.
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly redis: RedisClient,
    stream: string,
    group: string,
    private readonly consumer: string,
    readonly ttlMs: number,
  ) {
    this.key = keys.lease(stream, group);
  }

  /** Whether this member took the lease and has not seen it lost, whatever its clock says. */
  get holding(): boolean {
    return this.held;
  }

  /** Whether this member holds the lease now, by its own clock. */
  get valid(): boolean {
    return this.held && performance.now() < this.validUntil;
  }

  /** Takes the lease if it is free, renews it if it is ours. A failed call counts as not renewed. */
  hold(): Promise<LeaseChange> {
    return this.serially(() => this.call(false));
  }

  /** Renews the lease if it is ours, never takes it: the heartbeat. */
  renew(): Promise<LeaseChange> {
    return this.serially(() => this.call(true));
  }

  /** Gives the lease up, so the next member need not wait for it to run out. */
  drop(): Promise<void> {
    // Not ours from now on, even before the call runs.
    this.held = false;
    return this.serially(async () => {
      this.held = false;
      await dropLease.run(this.redis, [this.key], [this.consumer]);
    });
  }

  private serially<T>(call: () => Promise<T>): Promise<T> {
    const run = this.queue.then(call, call);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async call(renewOnly: boolean): Promise<LeaseChange> {
    const asked = performance.now();
    let answer: number;
    try {
      answer = Number(
        await holdLease.run(this.redis, [this.key], [this.consumer, this.ttlMs, renewOnly ? '1' : '0']),
      );
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
}
