import {
  type AdapterCapabilities,
  ConfigError,
  type SubscribeSpec,
  topicProblem,
} from '@tidings/core/adapter';

/** Checks what the core asks of a subscription, naming the bad field in a `ConfigError`. */
export function checkSpec(spec: SubscribeSpec, capabilities: AdapterCapabilities): void {
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
  if (spec.ordering !== 'none' && spec.ordering !== 'key') {
    throw new ConfigError('ordering', `must be 'key' or 'none', got ${String(spec.ordering)}`);
  }
  if (spec.ordering === 'key' && capabilities.ordering !== 'key') {
    throw new ConfigError('ordering', "this adapter does not order by key; use ordering: 'none'");
  }
  if (!Number.isInteger(spec.maxAttempts) || spec.maxAttempts < 1) {
    throw new ConfigError('maxAttempts', `must be an integer of at least 1, got ${String(spec.maxAttempts)}`);
  }
}
