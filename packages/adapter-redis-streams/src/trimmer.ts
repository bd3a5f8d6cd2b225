import type { RedisClient } from './connection';
import type { RedisStreamsTrimOptions } from './options';
import { trim } from './scripts';

/**
 * Trims the streams an adapter publishes to, at most once per interval per stream, after the
 * publish that asked for it has returned (trimming never delays a publish). A publish inside the
 * interval leaves a trim pending for the end of it, so the last burst is trimmed too.
 */
export class Trimmer {
  private readonly lastRun = new Map<string, number>();
  private readonly waiting = new Map<string, NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly options: Required<RedisStreamsTrimOptions>,
    private readonly onError: (error: Error) => void,
  ) {}

  /** Notes that records were published to `stream`. */
  published(stream: string): void {
    if (this.stopped || this.waiting.has(stream)) return;
    const wait = (this.lastRun.get(stream) ?? 0) + this.options.intervalMs - Date.now();
    if (wait <= 0) {
      this.run(stream);
      return;
    }
    const timer = setTimeout(() => {
      this.waiting.delete(stream);
      this.run(stream);
    }, wait);
    timer.unref();
    this.waiting.set(stream, timer);
  }

  /** Trims `stream` now; resolves with the number of entries removed. */
  async trimNow(stream: string): Promise<number> {
    const { maxLength, maxAgeMs, keepUnsettled } = this.options;
    const removed = await trim.run(this.redis, [stream], [maxLength, maxAgeMs, keepUnsettled ? '1' : '0']);
    return Number(removed);
  }

  /** Cancels pending trims and waits for running ones. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.waiting.values()) clearTimeout(timer);
    this.waiting.clear();
    await Promise.allSettled([...this.running]);
  }

  private run(stream: string): void {
    if (this.stopped) return;
    this.lastRun.set(stream, Date.now());
    const done: Promise<void> = this.trimNow(stream).then(
      () => undefined,
      (error: unknown) => this.onError(error instanceof Error ? error : new Error(String(error))),
    );
    this.running.add(done);
    void done.finally(() => this.running.delete(done));
  }
}
