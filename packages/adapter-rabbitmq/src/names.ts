import { createHash } from 'node:crypto';

/** AMQP short strings (queue, exchange and routing key names) hold at most 255 bytes. */
export const MAX_NAME_BYTES = 255;

/**
 * The queue a consumer group reads a topic from: `<exchange>/<group>/<topic>`. Deterministic, so
 * that a group reopening in another process finds its queue, and distinct per group, so that every
 * group gets every record. A name that would be ambiguous (a `/` in the group) or too long gets a
 * hash of the full triple instead of its tail.
 *
 * @example
 * ```ts
 * workQueueName('tidings', 'billing', 'order.placed'); // 'tidings/billing/order.placed'
 * ```
 */
export function workQueueName(exchange: string, group: string, topic: string): string {
  const readable = `${exchange}/${group}/${topic}`;
  if (!group.includes('/') && Buffer.byteLength(readable) <= MAX_NAME_BYTES) return readable;
  return withHash(readable, JSON.stringify([exchange, group, topic]));
}

/**
 * The exchange and the queue of one delay level: records wait `ms` there. `0ms` is the pass-through
 * queue that hands records straight back. The `.` after the exchange name keeps these apart from
 * the work queues, which all start with `<exchange>/`.
 *
 * @example
 * ```ts
 * delayLevelName('tidings', 800); // 'tidings.delay.800ms': its headers exchange and its queue
 * ```
 */
export function delayLevelName(exchange: string, ms: number): string {
  return `${exchange}.delay.${ms}ms`;
}

/**
 * The queue that lists the consumer groups of a topic, `<exchange>.groups/<topic>`: AMQP cannot list
 * queues, so each subscription leaves its group's name there (see `groups.ts`). The `.` after the
 * exchange name keeps it apart from the work queues, like the delay levels.
 *
 * @example
 * ```ts
 * groupRegistryName('tidings', 'order.placed'); // 'tidings.groups/order.placed'
 * ```
 */
export function groupRegistryName(exchange: string, topic: string): string {
  const readable = `${exchange}.groups/${topic}`;
  if (Buffer.byteLength(readable) <= MAX_NAME_BYTES) return readable;
  return withHash(readable, JSON.stringify([exchange, 'groups', topic]));
}

function withHash(readable: string, identity: string): string {
  const suffix = `~${createHash('sha256').update(identity).digest('hex').slice(0, 16)}`;
  const room = MAX_NAME_BYTES - suffix.length;
  let head = '';
  let bytes = 0;
  // Cut on code points so the name stays valid UTF-8.
  for (const char of readable) {
    const size = Buffer.byteLength(char);
    if (bytes + size > room) break;
    head += char;
    bytes += size;
  }
  return head + suffix;
}
