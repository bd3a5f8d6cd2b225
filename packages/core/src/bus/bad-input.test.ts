import { describe, expect, it } from 'vitest';
import { OrderPlaced, order } from '../../test/support/contracts';
import type { OutgoingRecord } from '../adapters/contract';
import { jsonCodec } from '../envelope/codec';
import { encodeEnvelope } from '../envelope/encode';
import { createTestBus } from '../testing/harness';

function validRecord(
  overrides: { headers?: Record<string, string | undefined>; body?: Uint8Array; data?: unknown } = {},
): OutgoingRecord {
  const record = encodeEnvelope(
    {
      id: `raw-${Math.random().toString(36).slice(2)}`,
      source: 'raw-producer',
      type: 'order.placed',
      specversion: '1.0',
      time: new Date().toISOString(),
      datacontenttype: 'application/json',
      subject: undefined,
      dataschema: undefined,
      eventversion: 2,
      partitionkey: 'k',
      traceparent: undefined,
      tracestate: undefined,
      correlationid: undefined,
      causationid: undefined,
      extensions: {},
      data: overrides.data ?? order('raw'),
    },
    'order.placed',
    { prefix: 'ce_', codec: jsonCodec },
  );
  const headers: Record<string, string> = { ...record.headers };
  for (const [name, value] of Object.entries(overrides.headers ?? {})) {
    if (value === undefined) delete headers[name];
    else headers[name] = value;
  }
  return { ...record, headers, body: overrides.body ?? record.body };
}

describe('bad input on consume: a dead letter with the reason, and the consumer goes on', () => {
  it.each([
    [
      'malformed bytes',
      validRecord({ body: Buffer.from('{"orderId": "x", "tot') }),
      /DecodeError: cannot decode the body/,
    ],
    [
      'a missing CloudEvents attribute',
      validRecord({ headers: { ce_source: undefined } }),
      /DecodeError: .*missing ce_source/,
    ],
    [
      'a wrong specversion',
      validRecord({ headers: { ce_specversion: '0.3' } }),
      /unsupported CloudEvents specversion/,
    ],
    [
      'an unknown event type',
      validRecord({ headers: { ce_type: 'order.exploded' } }),
      /UnknownEventTypeError: unknown event type "order.exploded"/,
    ],
    [
      'a schema violation',
      validRecord({ data: { orderId: 'x', total: 'lots' } }),
      /ValidationError: order.placed: total/,
    ],
    [
      'an unknown content type',
      validRecord({ headers: { 'content-type': 'application/x-protobuf' } }),
      /no codec for content type/,
    ],
    [
      'a version newer than the contract',
      validRecord({ headers: { ce_eventversion: '9' } }),
      /newer than this consumer's contract/,
    ],
    [
      'no headers at all',
      { topic: 'order.placed', key: undefined, headers: {}, body: Buffer.from('hello') },
      /not a CloudEvent/,
    ],
  ])('%s', async (_label, bad, reason) => {
    const bus = createTestBus();
    let handled = 0;
    bus.subscribe(OrderPlaced, { group: 'g', concurrency: 1, ordering: 'none' }, () => {
      handled++;
    });
    await bus.start();
    await bus.adapter.publish([bad]);
    await bus.publish(OrderPlaced, order('after-the-bad-one'));
    const [dead] = await bus.waitFor({ group: 'g', outcome: 'deadLettered' });
    await bus.waitFor({ group: 'g', outcome: 'handled' });
    expect(dead!.reason).toMatch(reason);
    // Bad input is not worth retrying: it goes straight to the dead-letter topic.
    expect(dead!.attempt).toBe(1);
    expect(bus.deliveries.filter((d) => d.outcome === 'retried')).toEqual([]);
    expect(handled).toBe(1);
    await bus.stop();
  });

  it('dead-letters an oversize record', async () => {
    const bus = createTestBus({ maxMessageBytes: 100 });
    bus.subscribe(OrderPlaced, { group: 'g' }, () => undefined);
    await bus.start();
    await bus.adapter.publish([validRecord({ data: { ...order('x'), orderId: 'x'.repeat(200) } })]);
    const [dead] = await bus.waitFor({ outcome: 'deadLettered' });
    expect(dead!.reason).toMatch(/MessageTooLargeError: message of \d+ bytes exceeds the limit of 100 bytes/);
    await expect(bus.publish(OrderPlaced, { ...order('x'), orderId: 'y'.repeat(200) })).rejects.toMatchObject(
      {
        code: 'MESSAGE_TOO_LARGE',
      },
    );
    await bus.stop();
  });

  it('acknowledges unknown types when told to ignore them', async () => {
    const bus = createTestBus();
    bus.subscribe(OrderPlaced, { group: 'g', unknownTypes: 'ack' }, () => undefined);
    await bus.start();
    await bus.adapter.publish([validRecord({ headers: { ce_type: 'order.other' } })]);
    const [skipped] = await bus.waitFor({ group: 'g' });
    expect(skipped!.outcome).toBe('skipped');
    await bus.stop();
  });

  it('reads a structured-mode CloudEvent from a foreign producer', async () => {
    const bus = createTestBus();
    const seen: unknown[] = [];
    bus.subscribe(OrderPlaced, { group: 'g' }, (event) => {
      seen.push(event.data);
    });
    await bus.start();
    const body = Buffer.from(
      JSON.stringify({
        specversion: '1.0',
        id: 'x1',
        source: 'foreign',
        type: 'order.placed',
        eventversion: 2,
        data: order('f'),
      }),
    );
    await bus.adapter.publish([
      {
        topic: 'order.placed',
        key: undefined,
        headers: { 'content-type': 'application/cloudevents+json' },
        body,
      },
    ]);
    await bus.waitFor({ id: 'x1', outcome: 'handled' });
    expect(seen).toEqual([order('f')]);
    await bus.stop();
  });
});
