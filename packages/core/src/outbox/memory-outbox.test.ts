import { describe, expect, it } from 'vitest';
import { OrderPlaced, order } from '../../test/support/contracts';
import { createBus } from '../bus/bus';
import { batchEntry } from '../context/publish';
import { ConfigError, PublishError, ValidationError } from '../errors';
import { createMemoryOutbox } from './memory-outbox';

const bus = () => createBus({ source: 'outbox-test' });

const keysOf = (records: readonly { record: { key: string | undefined } }[]) =>
  records.map((r) => r.record.key);

describe('memory outbox', () => {
  it('validates and encodes through the bus, and queues nothing when an entry is invalid', async () => {
    const outbox = createMemoryOutbox({ bus: bus() });
    const event = await outbox.write(OrderPlaced, order('o-1'));
    expect(event).toMatchObject({ type: 'order.placed', topic: 'order.placed', key: 'o-1' });
    await expect(
      outbox.writeBatch([
        batchEntry(OrderPlaced, order('o-2')),
        // @ts-expect-error: the data does not match the contract
        batchEntry(OrderPlaced, { orderId: 'o-3' }),
      ]),
    ).rejects.toBeInstanceOf(ValidationError);
    expect(outbox.size).toBe(1);
    const claim = await outbox.claim(10);
    expect(claim?.records[0]?.record.headers.ce_id).toBe(event.id);
  });

  it('claims the oldest records of a key only, and no key twice at once', async () => {
    const outbox = createMemoryOutbox({ bus: bus() });
    await outbox.writeBatch([
      batchEntry(OrderPlaced, order('a')),
      batchEntry(OrderPlaced, order('a')),
      batchEntry(OrderPlaced, order('b')),
      batchEntry(OrderPlaced, order('a')),
      batchEntry(OrderPlaced, order('c')),
    ]);
    const first = await outbox.claim(2);
    expect(keysOf(first!.records)).toEqual(['a', 'a']);
    // 'a' is held by the first claim: its third record must wait.
    const second = await outbox.claim(10);
    expect(keysOf(second!.records)).toEqual(['b', 'c']);
    expect(await outbox.claim(10)).toBeUndefined();

    // The first record went out, the second did not: it stays ahead of the third.
    await first!.settle({ sent: [first!.records[0]!.id], error: new Error('broker down') });
    const third = await outbox.claim(10);
    expect(keysOf(third!.records)).toEqual(['a', 'a']);
    expect(third!.records[0]!.attempts).toBe(1);
    expect(third!.records[0]!.id).toBe(first!.records[1]!.id);
  });

  it('parks records that can never be sent, so that their key goes on', async () => {
    const outbox = createMemoryOutbox({ bus: bus() });
    await outbox.writeBatch([batchEntry(OrderPlaced, order('a')), batchEntry(OrderPlaced, order('a'))]);
    const claim = await outbox.claim(1);
    await claim!.settle({ sent: [], failed: [{ id: claim!.records[0]!.id, error: new Error('too large') }] });
    const next = await outbox.claim(10);
    expect(next!.records).toHaveLength(1);
    expect(await outbox.stats()).toMatchObject({ pending: 1, failed: 1 });
  });

  it('reports its lag as the age of the oldest pending record', async () => {
    let now = 1_000;
    const outbox = createMemoryOutbox({ bus: bus(), now: () => now });
    expect(await outbox.stats()).toEqual({ pending: 0, failed: 0, lagMs: 0 });
    await outbox.write(OrderPlaced, order('a'));
    now += 250;
    await outbox.write(OrderPlaced, order('b'));
    now += 100;
    expect(await outbox.stats()).toEqual({ pending: 2, failed: 0, lagMs: 350 });
  });

  it('tells watchers about writes, and fails writes past maxPending', async () => {
    const outbox = createMemoryOutbox({ bus: bus(), maxPending: 2 });
    let calls = 0;
    const watch = outbox.watch(() => {
      calls++;
    });
    await outbox.writeBatch([batchEntry(OrderPlaced, order('a')), batchEntry(OrderPlaced, order('b'))]);
    expect(calls).toBe(1);
    await expect(outbox.write(OrderPlaced, order('c'))).rejects.toBeInstanceOf(PublishError);
    await watch.close();
    const claim = await outbox.claim(10);
    await claim!.settle({ sent: claim!.records.map((r) => r.id) });
    await outbox.write(OrderPlaced, order('c'));
    expect(calls).toBe(1);
  });

  it('needs a bus and a positive maxPending', () => {
    // @ts-expect-error: the bus is required
    expect(() => createMemoryOutbox({})).toThrow(ConfigError);
    expect(() => createMemoryOutbox({ bus: bus(), maxPending: 0 })).toThrow(/maxPending/);
  });
});
