import { ConfigError } from '../../errors';
import type { AdapterCapabilities, SubscribeSpec } from '../contract';
import { topicProblem } from './topic-rule';

/**
 * Checks what the core asks of a subscription, the same way for every adapter, and throws a
 * `ConfigError` naming the bad field: a consumer group, at least one topic (each one the adapter's
 * topic rule accepts), a concurrency of at least 1, a prefetch of at least the concurrency, an
 * ordering the adapter can keep, a start position, at least one attempt and a handler timeout in
 * milliseconds. The bus checks the same before it subscribes; adapters call this because they are
 * also used directly.
 *
 * @example
 * ```ts
 * async subscribe(spec: SubscribeSpec, handler: RecordHandler, observer?: SettlementObserver) {
 *   checkSubscribeSpec(spec, this.capabilities);
 *   // ...
 * }
 * ```
 */
export function checkSubscribeSpec(spec: SubscribeSpec, capabilities: AdapterCapabilities): void {
  if (typeof spec.group !== 'string' || spec.group.length === 0) {
    throw new ConfigError('group', 'a subscription needs a non-empty consumer group');
  }
  if (!Array.isArray(spec.topics) || spec.topics.length === 0) {
    throw new ConfigError('topics', 'a subscription needs at least one topic');
  }
  for (const topic of spec.topics) {
    const problem = topicProblem(capabilities.topicRule, topic);
    if (problem !== undefined) throw new ConfigError('topics', problem);
  }
  if (!Number.isInteger(spec.concurrency) || spec.concurrency < 1) {
    throw new ConfigError('concurrency', `must be an integer of at least 1, got ${String(spec.concurrency)}`);
  }
  if (!Number.isInteger(spec.prefetch) || spec.prefetch < spec.concurrency) {
    throw new ConfigError(
      'prefetch',
      `must be an integer of at least the concurrency (${spec.concurrency}), got ${String(spec.prefetch)}`,
    );
  }
  if (spec.ordering !== 'key' && spec.ordering !== 'none') {
    throw new ConfigError('ordering', `must be 'key' or 'none', got ${String(spec.ordering)}`);
  }
  if (spec.ordering === 'key' && capabilities.ordering !== 'key') {
    throw new ConfigError('ordering', "this adapter does not order by key; use ordering: 'none'");
  }
  if (spec.startFrom !== 'earliest' && spec.startFrom !== 'latest') {
    throw new ConfigError('startFrom', `must be 'earliest' or 'latest', got ${String(spec.startFrom)}`);
  }
  if (!Number.isInteger(spec.maxAttempts) || spec.maxAttempts < 1) {
    throw new ConfigError('maxAttempts', `must be an integer of at least 1, got ${String(spec.maxAttempts)}`);
  }
  if (!Number.isInteger(spec.handlerTimeoutMs) || spec.handlerTimeoutMs < 0) {
    throw new ConfigError(
      'handlerTimeoutMs',
      `must be an integer of at least 0 (0: no timeout), got ${String(spec.handlerTimeoutMs)}`,
    );
  }
}
