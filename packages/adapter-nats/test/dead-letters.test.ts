import { createBus, defineEvent } from '@tidings/core';
import type { IncomingRecord, Settlement } from '@tidings/core/adapter';
import { type MsgHdrs, MsgHdrsImpl } from 'nats';
import { describe, expect, it } from 'vitest';
import { createNatsAdapter, type NatsAdapter, type NatsAdapterOptions, partitionOfKey } from '../src/index';
import { natsFixture } from './support/fixture';
import { deleteStream, NATS_URL, uniqueName } from './support/nats';
import { subscribeSpec } from './support/spec';
import { Waiter } from './support/waiter';

const ACK: Settlement = { type: 'ack' };

// One prefix and stream for this file, deleted at the end; every test uses topics of its own.
const prefix = uniqueName('tdl');
const stream = prefix.toUpperCase();
const fx = natsFixture(() => deleteStream(stream));

function adapter(options: Partial<NatsAdapterOptions> = {}): NatsAdapter {
  return createNatsAdapter({ servers: NATS_URL, prefix, stream: { name: stream }, ...options });
}

const Ping = defineEvent({
  type: 'test.ping',
  schema: {
    type: 'object',
    properties: { n: { type: 'integer' } },
    required: ['n'],
    additionalProperties: false,
  } as const,
});

/** Collects what the adapter delivers to a plain (bus-less) reader. */
function reader(): {
  records: IncomingRecord[];
  waiter: Waiter;
  handler: (r: IncomingRecord) => Promise<Settlement>;
} {
  const records: IncomingRecord[] = [];
  const waiter = new Waiter();
  return {
    records,
    waiter,
    handler: async (record) => {
      records.push(record);
      waiter.notify();
      return ACK;
    },
  };
}

describe('records from other producers', () => {
  it('reads records whose header names nats.js refuses (other clients write them), handling or dead-lettering them, and goes on', async () => {
    const topic = uniqueName('foreign');
    const group = uniqueName('g');
    const bus = createBus({
      source: 'test',
      adapter: adapter(),
      subscriptionDefaults: { retry: { maxAttempts: 3, initialDelayMs: 20, maxDelayMs: 50 } },
    });
    const handled: number[] = [];
    const progress = new Waiter();
    bus.subscribe(Ping, { group, topic, ordering: 'key', startFrom: 'earliest' }, (event) => {
      handled.push(event.data.n);
      progress.notify();
    });
    const dlq = reader();
    await (await fx.open(adapter())).subscribe(subscribeSpec(`${topic}.${group}.dlq`), dlq.handler);
    await bus.start();
    try {
      // nats.js refuses to write such names, and to read them; a Go client or a proxy writes them.
      const foreign = (n: number, type: string): MsgHdrs => {
        const values: Record<string, string[]> = {
          'ce-specversion': ['1.0'],
          'ce-id': [`foreign-${n}`],
          'ce-source': ['go-producer'],
          'ce-type': [type],
          'ce-datacontenttype': ['application/json'],
          'tidings-key': ['k'],
          'x trace id': ['abc'],
          żółw: ['slow'],
        };
        return MsgHdrsImpl.fromRecord(values);
      };
      const js = fx.raw().jetstream();
      const subject = `${prefix}.${topic}.${partitionOfKey('k', 8)}`;
      await js.publish(subject, Buffer.from('{"n":1}'), { headers: foreign(1, 'test.ping') });
      await js.publish(subject, Buffer.from('{"n":2}'), { headers: foreign(2, 'test.unknown') });
      await bus.publish(Ping, { n: 3 }, { topic, key: 'k' });
      await progress.until(
        () => handled.length >= 2,
        10_000,
        () => `handled ${handled.join(', ')}`,
      );
      await dlq.waiter.until(
        () => dlq.records.length >= 1,
        10_000,
        () => 'the foreign poison was not dead-lettered',
      );
      expect(handled).toEqual([1, 3]);
      const letter = dlq.records[0]!;
      expect(letter.headers['tidings-dlq-reason']).toMatch(/^UnknownEventTypeError: /);
      expect(letter.headers).toMatchObject({ 'ce-id': 'foreign-2', 'x trace id': 'abc', żółw: 'slow' });
    } finally {
      await bus.stop();
    }
  });
});
