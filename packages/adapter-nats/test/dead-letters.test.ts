import { LogCapture } from '@tidings/conformance';
import { createBus, defineEvent } from '@tidings/core';
import type { IncomingRecord, Settlement } from '@tidings/core/adapter';
import { type MsgHdrs, MsgHdrsImpl, headers as natsHeaders } from 'nats';
import { describe, expect, it } from 'vitest';
import { createNatsAdapter, type NatsAdapter, type NatsAdapterOptions, partitionOfKey } from '../src/index';
import { consumerName } from '../src/subjects';
import { natsFixture } from './support/fixture';
import { deleteStream, NATS_URL, uniqueName } from './support/nats';
import { injectRaw } from './support/raw';
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

/** JetStream refuses a message whose header block (framing included) is over this many bytes. */
const JETSTREAM_MAX_HEADER_BYTES = 65_535;

/** The CloudEvents headers of a raw record, but its type. */
function envelope(id: string): Record<string, string> {
  return {
    'ce-specversion': '1.0',
    'ce-id': id,
    'ce-source': 'raw-producer',
    'ce-datacontenttype': 'application/json',
  };
}

/** Bytes of the NATS header block of these headers: `NATS/1.0\r\n`, `name: value\r\n` each, `\r\n`. */
function headerBlockBytes(headers: Record<string, string>): number {
  let bytes = 12;
  for (const [name, value] of Object.entries(headers)) bytes += name.length + Buffer.byteLength(value) + 4;
  return bytes;
}

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

describe('dead letters at the limits of the server', () => {
  it('dead-letters records whose type header is at and over what the dead letter can carry, with the real reason, and handles the records behind them', async () => {
    const topic = uniqueName('huge-type');
    const group = uniqueName('g');
    const key = 'one-partition';
    const logs = new LogCapture();
    const bus = createBus({
      source: 'test',
      adapter: adapter(),
      logger: logs,
      subscriptionDefaults: { retry: { maxAttempts: 3, initialDelayMs: 20, maxDelayMs: 50 } },
    });
    const handled: number[] = [];
    const progress = new Waiter();
    bus.subscribe(Ping, { group, topic, ordering: 'key', startFrom: 'earliest' }, (event) => {
      handled.push(event.data.n);
      progress.notify();
    });
    const dlq = reader();
    const dlqReader = await fx.open(adapter());
    // The bus's default dead-letter topic: `<topic>.<group>.dlq`.
    await dlqReader.subscribe(subscribeSpec(`${topic}.${group}.dlq`), dlq.handler);
    await bus.start();
    try {
      // The largest type the stream takes in a record with these other headers: the header block
      // is then exactly at JetStream's limit, and any dead letter of it (which adds the failure
      // metadata) is over.
      const others = { ...envelope('poison-limit'), 'ce-type': '', 'tidings-key': key };
      const atLimit = JETSTREAM_MAX_HEADER_BYTES - headerBlockBytes(others);
      const types = { 'poison-63k': 63 * 1024, 'poison-65000': 65_000, 'poison-limit': atLimit };
      const nc = fx.raw();
      for (const [id, length] of Object.entries(types)) {
        await injectRaw(nc, { mode: 'jetstream', prefix, partitions: 8 }, topic, [
          {
            key,
            headers: { ...envelope(id), 'ce-type': `t${'y'.repeat(length - 1)}` },
            body: Buffer.from('{"n":0}'),
          },
        ]);
      }
      // One byte more and the stream refuses the record itself: the limit is the one we think.
      const over = natsHeaders();
      for (const [name, value] of Object.entries({ ...others, 'ce-type': 'y'.repeat(atLimit + 1) })) {
        over.set(name, value);
      }
      await expect(
        nc.jetstream().publish(`${prefix}.${topic}.0`, Buffer.from('{}'), { headers: over }),
      ).rejects.toThrow(/header size exceeds maximum/);

      // Valid events behind the poison, in its partition.
      for (let n = 1; n <= 5; n++) await bus.publish(Ping, { n }, { topic, key });

      await progress.until(
        () => handled.length >= 5,
        20_000,
        () => `${handled.length} of 5 valid events handled: ${handled.join(', ')}`,
      );
      await dlq.waiter.until(
        () => dlq.records.length >= 3,
        20_000,
        () => `${dlq.records.length} of 3 dead letters landed`,
      );
      expect(handled).toEqual([1, 2, 3, 4, 5]);
      for (const [id, length] of Object.entries(types)) {
        const letter = dlq.records.find((record) => record.headers['ce-id'] === id);
        expect(letter, `dead letter of ${id}`).toBeDefined();
        const headers = letter!.headers;
        // The real cause, at the first attempt: no delivery was spent on a dead letter that failed.
        expect(headers['tidings-dlq-reason']).toMatch(/^UnknownEventTypeError: unknown event type "ty/);
        expect(headers['tidings-dlq-attempts']).toBe('1');
        expect(headers['tidings-dlq-reduced']).toBe('headers');
        expect(JSON.parse(headers['tidings-dlq-cut-headers']!)).toContainEqual(
          expect.objectContaining({ name: 'ce-type', bytes: length }),
        );
        expect(headers['ce-type']!.length).toBeLessThan(300);
        expect(letter!.key).toBe(key);
        expect(Buffer.from(letter!.body).toString()).toBe('{"n":0}');
      }
      expect(dlq.records).toHaveLength(3);

      // Said once per record, once stored; nothing failed.
      const dead = logs.matching(/^event dead-lettered/);
      expect(dead).toHaveLength(3);
      for (const line of dead) expect(line.message).toContain('(reduced: headers cut to fit the broker)');
      expect(logs.matching(/could not be stored/)).toEqual([]);

      // Everything acknowledged, nothing redelivered.
      const jsm = await fx.raw().jetstreamManager();
      for (let partition = 0; partition < 8; partition++) {
        const info = await jsm.consumers.info(stream, consumerName(group, topic, partition));
        expect(info.num_ack_pending, `partition ${partition}`).toBe(0);
        expect(info.num_pending, `partition ${partition}`).toBe(0);
        expect(info.num_redelivered, `partition ${partition}`).toBe(0);
      }
    } finally {
      await bus.stop();
    }
  });
});

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
