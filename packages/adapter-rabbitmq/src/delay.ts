/**
 * Delayed retries without a plugin: a chain of delay levels shared by every queue of an exchange.
 * Level `k` holds records for `resolution × 2^k` ms (a per-queue TTL, so its queue stays first in,
 * first out). A delay of `n` resolution units is the binary sum of the levels whose bit is set in
 * `n`: the record is published to the top level's headers exchange and, level after level, either
 * waits in that level's queue (bit 1) or passes to the next level's exchange (bit 0). Level 0 and
 * the pass-through queue dead-letter it to the default exchange with its routing key, which is its
 * work queue's name. 27 queues (at 100 ms) cover every delay, whatever the number of groups, and a
 * record is at most one resolution late plus the broker's latency per level it waits in.
 *
 * @module
 */

/** Header prefix of the per-level bits: `tidings-delay-<level>` is `'1'` (wait) or `'0'` (pass). */
export const DELAY_HEADER_PREFIX = 'tidings-delay-';

/** RabbitMQ's largest message TTL. */
export const MAX_TTL_MS = 2 ** 32 - 1;

/** The broker latency the declared tolerance allows on top of the resolution. */
export const DELAY_LATENCY_MARGIN_MS = 1_000;

/** How one delayed record travels through the levels. */
export interface DelayPlan {
  /** The highest level on its way: it is published to this level's exchange. */
  readonly top: number;
  /** How long it waits in all, in milliseconds: the delay rounded up to the resolution. */
  readonly totalMs: number;
  /** The level bits, as headers. */
  readonly headers: Readonly<Record<string, string>>;
}

/** The highest level whose TTL RabbitMQ accepts at this resolution. */
export function maxLevel(resolutionMs: number): number {
  return Math.floor(Math.log2(MAX_TTL_MS / resolutionMs));
}

/** How long level `level` holds a record, in milliseconds. */
export function levelDelayMs(level: number, resolutionMs: number): number {
  return resolutionMs * 2 ** level;
}

/**
 * The plan for a delay: `undefined` when there is nothing to wait. Delays beyond what the levels
 * can add up to (about 77 days at 100 ms) are capped there.
 *
 * @example
 * ```ts
 * planDelay(300, 100); // { top: 1, totalMs: 300, headers: { 'tidings-delay-0': '1', 'tidings-delay-1': '1' } }
 * ```
 */
export function planDelay(delayMs: number, resolutionMs: number): DelayPlan | undefined {
  if (!(delayMs > 0)) return undefined;
  const cap = 2 ** (maxLevel(resolutionMs) + 1) - 1;
  const units = Math.min(cap, Math.ceil(delayMs / resolutionMs));
  const top = Math.floor(Math.log2(units));
  const headers: Record<string, string> = {};
  for (let level = 0; level <= top; level++) {
    headers[`${DELAY_HEADER_PREFIX}${level}`] = Math.floor(units / 2 ** level) % 2 === 1 ? '1' : '0';
  }
  return { top, totalMs: units * resolutionMs, headers };
}
