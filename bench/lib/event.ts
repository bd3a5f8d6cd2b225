// The event every broker benchmark sends: 1 KiB of JSON that carries its sequence number and the
// moment its publish started, so that a handler can tell the end-to-end latency.
import { defineEvent } from '@tidings/core';
import { z } from 'zod';

/** Bytes of JSON per event. */
export const MESSAGE_BYTES = 1024;
/** Keys the events are spread over (partitions, shards). */
const KEYS = 64;

export const benchEventSchema = z.object({
  seq: z.number().int(),
  /** `performance.now()` when the publish call started; publisher and handler share the process. */
  sentAt: z.number(),
  key: z.string(),
  payload: z.string(),
});
export type BenchEvent = z.infer<typeof benchEventSchema>;

/** The type every benchmark event carries (raw lanes put it in a header). */
export const BENCH_EVENT_TYPE = 'bench.event';

/** The Tidings contract of the benchmark event on `topic`, keyed like the raw lanes' records. */
export function benchContract(topic: string) {
  return defineEvent({ type: BENCH_EVENT_TYPE, topic, schema: benchEventSchema, key: (data) => data.key });
}

/** Event `seq`, stamped now, whose JSON is exactly {@link MESSAGE_BYTES} bytes. */
export function benchEvent(seq: number): BenchEvent {
  const bare = {
    seq,
    sentAt: performance.now(),
    key: `k-${String(Math.abs(seq) % KEYS).padStart(2, '0')}`,
    payload: '',
  };
  return { ...bare, payload: 'x'.repeat(Math.max(0, MESSAGE_BYTES - JSON.stringify(bare).length)) };
}
