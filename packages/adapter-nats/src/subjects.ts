import { createHash } from 'node:crypto';
import type { TopicRule } from '@tidings/core/adapter';

/**
 * The topic names the NATS adapters accept, the one rule checked wherever a name becomes part of
 * a subject (a topic on publish and subscribe, a dead-letter topic, the subject prefix): dot-
 * separated non-empty tokens without whitespace, control characters or the wildcards `*` and `>`
 * (anywhere in a name, so that no topic can be read as a wildcard filter), at most 512 bytes.
 * Non-ASCII characters are fine. Check a name with `topicProblem(NATS_TOPIC_RULE, name)`.
 *
 * @example
 * ```ts
 * topicProblem(NATS_TOPIC_RULE, 'order.placed');  // undefined
 * topicProblem(NATS_TOPIC_RULE, 'order..placed'); // 'topic "order..placed" is not a valid name here: …'
 * ```
 */
export const NATS_TOPIC_RULE: TopicRule = Object.freeze({
  pattern: '^[^\\s*>.\\p{Cc}]+(\\.[^\\s*>.\\p{Cc}]+)*$',
  // Far below what a protocol line (4 KiB) holds with the prefix, the partition and a reply
  // subject; a topic's dead-letter topic, `<topic>.<group>.dlq`, must fit it too.
  maxBytes: 512,
  description:
    "dot-separated non-empty tokens without whitespace, control characters, '*' or '>' (NATS subjects)",
});

/**
 * The subject of one partition of a topic: `<prefix>.<topic>.<partition>`. The partition is the
 * last token, so that `<prefix>.<topic>.*` matches the topic's partitions and nothing else (a
 * topic `orders.eu` lives at `<prefix>.orders.eu.<n>`, one token too deep for `orders.*`).
 *
 * @example
 * ```ts
 * partitionSubject('tidings', 'order.placed', 3); // 'tidings.order.placed.3'
 * ```
 */
export function partitionSubject(prefix: string, topic: string, partition: number): string {
  return `${prefix}.${topic}.${partition}`;
}

/** The filter that matches every partition of a topic. */
export function topicFilter(prefix: string, topic: string): string {
  return `${prefix}.${topic}.*`;
}

/** The core-NATS subject of a topic: `<prefix>.<topic>` (core NATS has no partitions). */
export function coreSubject(prefix: string, topic: string): string {
  return `${prefix}.${topic}`;
}

/**
 * The partition of a key: FNV-1a (32 bit) over the key's UTF-8 bytes, modulo the partition count.
 * A fixed, documented hash, so producers in other languages can place keys the same way.
 *
 * @example
 * ```ts
 * partitionOfKey('order-42', 8); // the same number in every process, every run
 * ```
 */
export function partitionOfKey(key: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(key, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

const NAME_UNSAFE = /[^A-Za-z0-9_-]+/g;

function readable(text: string): string {
  return text.replace(NAME_UNSAFE, '_').slice(0, 48);
}

/**
 * The durable consumer name of a group on a topic (and a partition, for ordered groups): readable
 * parts for operators, and a hash of the exact names so that names that read alike stay apart.
 * Only `[A-Za-z0-9_-]`, which every JetStream version and file store accept.
 *
 * @example
 * ```ts
 * consumerName('billing', 'order.placed');    // 'billing__order_placed__3f2a9c01de'
 * consumerName('billing', 'order.placed', 2); // 'billing__order_placed__3f2a9c01de-p2'
 * ```
 */
export function consumerName(group: string, topic: string, partition?: number): string {
  const hash = createHash('sha256').update(group).update('\u0000').update(topic).digest('hex').slice(0, 10);
  const base = `${readable(group)}__${readable(topic)}__${hash}`;
  return partition === undefined ? base : `${base}-p${partition}`;
}
