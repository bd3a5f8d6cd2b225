import { describe, expect, it } from 'vitest';
import { OrderPlaced, order } from '../../test/support/contracts';
import type { BrokerAdapter } from '../adapters/contract';
import { redriveHeaders } from '../adapters/kit/redrive';
import { createMemoryAdapter } from '../adapters/memory/adapter';
import { createMemoryBroker } from '../adapters/memory/broker';
import {
  CapabilityUnavailableError,
  ConfigError,
  DeadLetterNotFoundError,
  NonRetryableError,
} from '../errors';
import { createTestBus } from '../testing/harness';
import { createOperator } from './operator';

const at = { topic: 'order.placed', group: 'billing' };

async function twoDeadLetters() {
  const bus = createTestBus();
  const broken = { value: true };
  bus.subscribe(OrderPlaced, { group: 'billing' }, (event) => {
    if (broken.value && event.data.total > 100)
      throw new NonRetryableError(`total ${event.data.total} too high`);
  });
  bus.subscribe(OrderPlaced, { group: 'audit' }, () => undefined);
  await bus.start();
  await bus.publish(OrderPlaced, order('o-1', 500));
  await bus.publish(OrderPlaced, order('o-2', 5));
  await bus.publish(OrderPlaced, order('o-3', 900));
  await bus.waitFor({ group: 'billing', outcome: 'deadLettered' }, { count: 2 });
  await bus.waitFor({ group: 'audit', outcome: 'handled' }, { count: 3 });
  const operator = createOperator({ adapter: bus.adapter, events: [OrderPlaced] });
  return { bus, broken, operator };
}

describe('createOperator', () => {
  it('shows dead letters decoded by their contract, with the failure metadata, and filters them', async () => {
    const { bus, operator } = await twoDeadLetters();
    const letters = [];
    for await (const letter of operator.browse(at)) letters.push(letter);
    expect(letters.map((letter) => (letter.envelope!.data as { orderId: string }).orderId)).toEqual([
      'o-1',
      'o-3',
    ]);
    expect(letters[0]!.envelope?.type).toBe('order.placed');
    expect(letters[0]!.failure).toMatchObject({
      errorName: 'NonRetryableError',
      errorMessage: 'total 500 too high',
      attempts: 1,
      reduced: [],
    });
    expect(letters[0]!.deadLetterTopic).toBe('order.placed.billing.dlq');
    expect(letters[0]!.decodeError).toBeUndefined();
    // The same reading for any record, as `tidings tail` shows them.
    expect(operator.decode(letters[0]!).envelope).toEqual(letters[0]!.envelope);
    const garbage = operator.decode({ topic: 't', key: undefined, headers: {}, body: new Uint8Array([1]) });
    expect(garbage.envelope).toBeUndefined();
    expect(garbage.decodeError).toBeInstanceOf(Error);
    const count = async (selection: Parameters<typeof operator.browse>[0]) => {
      let n = 0;
      for await (const _ of operator.browse(selection)) n++;
      return n;
    };
    expect(await count({ ...at, type: 'order.shipped' })).toBe(0);
    expect(await count({ ...at, type: ['order.placed'] })).toBe(2);
    expect(await count({ ...at, reason: 'total 900' })).toBe(1);
    expect(await count({ ...at, since: new Date(Date.now() + 60_000) })).toBe(0);
    expect(await count({ ...at, until: new Date(Date.now() + 60_000) })).toBe(2);
    expect(await count({ ...at, ids: [letters[1]!.id] })).toBe(1);
    expect(await count({ topic: 'order.placed', group: 'audit' })).toBe(0);
    expect((await operator.deadLetter(at, letters[1]!.id)).id).toBe(letters[1]!.id);
    await expect(operator.deadLetter(at, 'nope')).rejects.toBeInstanceOf(DeadLetterNotFoundError);
    await bus.stop();
  });

  it('redrives to the failed group only, which handles them at attempt 1', async () => {
    const { bus, broken, operator } = await twoDeadLetters();
    broken.value = false;
    const progress: unknown[] = [];
    const report = await operator.redrive(at, { batchSize: 1, onProgress: (p) => progress.push(p) });
    expect(report).toEqual({ redriven: 2, missing: 0, refused: [], aborted: false });
    expect(progress).toEqual([
      { redriven: 1, missing: 0, refused: 0 },
      { redriven: 2, missing: 0, refused: 0 },
    ]);
    const handled = await bus.waitFor(
      { group: 'billing', outcome: 'handled', where: (d) => (d.data as { total: number }).total > 100 },
      { count: 2 },
    );
    expect(handled.map((d) => d.attempt)).toEqual([1, 1]);
    expect(bus.deliveries.filter((d) => d.group === 'audit')).toHaveLength(3);
    expect((await operator.page(at)).letters).toEqual([]);
    // Run again: nothing is left to redrive.
    expect((await operator.redrive(at)).redriven).toBe(0);
    await bus.stop();
  });

  it('purges with a count, and pages with a cursor', async () => {
    const { bus, operator } = await twoDeadLetters();
    const first = await operator.page(at, { limit: 1 });
    expect(first.letters).toHaveLength(1);
    expect(first.cursor).toBeDefined();
    const second = await operator.page(at, { limit: 1, cursor: first.cursor });
    expect(second.letters).toHaveLength(1);
    expect(second.cursor).toBeUndefined();
    expect(await operator.purge({ ...at, reason: 'total 500' })).toBe(1);
    const deleted: number[] = [];
    expect(await operator.purge(at, { onProgress: (n) => deleted.push(n) })).toBe(1);
    expect(deleted).toEqual([1]);
    expect(await operator.purge(at)).toBe(0);
    await bus.stop();
  });

  it('replays from a position to one group only', async () => {
    const { bus, operator } = await twoDeadLetters();
    const second = bus.deliveries.find(
      (d) => d.group === 'audit' && (d.data as { orderId: string }).orderId === 'o-2',
    );
    expect(second).toBeDefined();
    await operator.replay('order.placed', 'audit', { position: 'order.placed@1' });
    const again = await bus.waitFor({ group: 'audit', outcome: 'handled' }, { count: 5 });
    expect(again.slice(3).map((d) => (d.data as { orderId: string }).orderId)).toEqual(['o-2', 'o-3']);
    await expect(operator.replay('order.placed', 'nobody', { time: new Date(0) })).rejects.toMatchObject({
      field: 'group',
    });
    await expect(operator.replay('order.placed', 'audit', { position: 'elsewhere@1' })).rejects.toMatchObject(
      {
        field: 'from.position',
      },
    );
    await bus.stop();
  });

  it('lists the groups of a topic with their lag, and deletes one that has no member', async () => {
    const broker = createMemoryBroker();
    const app = createMemoryAdapter({ broker });
    const spec = {
      topics: ['t'],
      concurrency: 1,
      prefetch: 1,
      ordering: 'none',
      startFrom: 'latest',
      maxAttempts: 1,
      handlerTimeoutMs: 0,
    } as const;
    let handled!: () => void;
    const wasHandled = new Promise<void>((resolve) => {
      handled = resolve;
    });
    await app.subscribe({ ...spec, group: 'live' }, async () => {
      setImmediate(handled);
      return { type: 'ack' };
    });
    const leaving = await app.subscribe({ ...spec, group: 'left' }, async () => ({ type: 'ack' }));
    await leaving.close();
    await app.publish([{ topic: 't', key: undefined, headers: {}, body: new Uint8Array() }]);
    await wasHandled;
    // Another adapter on the same broker, as another process would be.
    const operator = createOperator({ adapter: createMemoryAdapter({ broker }) });
    const groups = await operator.groups(['t']);
    expect(groups.map((g) => [g.group, g.lag, g.members, g.state])).toEqual([
      ['left', 1, 0, 'idle'],
      ['live', 0, 1, 'active'],
    ]);
    await expect(operator.deleteGroup('t', 'live')).rejects.toMatchObject({ field: 'group' });
    expect(await operator.deleteGroup('t', 'left')).toBe(true);
    expect((await operator.groups(['t'])).map((g) => g.group)).toEqual(['live']);
    expect(await operator.deleteGroup('t', 'left')).toBe(false);
    await expect(operator.groups([''])).rejects.toMatchObject({ field: 'topics[0]' });
    await app.close();
  });

  it('follows a topic live in a group of its own, decoded, and deletes that group when stopped', async () => {
    const bus = createTestBus();
    bus.subscribe(OrderPlaced, { group: 'billing' }, () => undefined);
    await bus.start();
    const operator = createOperator({ adapter: bus.adapter, events: [OrderPlaced] });
    const seen: string[] = [];
    let arrived!: () => void;
    const both = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const following = await operator.follow(
      'order.placed',
      ({ envelope, record }) => {
        seen.push(`${(envelope!.data as { orderId: string }).orderId}@${record.topic}`);
        if (seen.length === 2) arrived();
      },
      { label: 'ops laptop' },
    );
    expect(following.group).toMatch(/^tidings-tail-ops-laptop-[0-9a-f]{12}$/);
    await bus.publish(OrderPlaced, order('o-1', 5));
    await bus.publish(OrderPlaced, order('o-2', 6));
    await both;
    expect(seen).toEqual(['o-1@order.placed', 'o-2@order.placed']);
    expect((await operator.groups(['order.placed'])).map((g) => g.group)).toContain(following.group);
    expect(await following.stop()).toBe(true);
    expect((await operator.groups(['order.placed'])).map((g) => g.group)).toEqual(['billing']);
    await bus.stop();
  });

  it('refuses bad options with the field, and what the adapter cannot do with its reason', async () => {
    const adapter = createMemoryAdapter();
    expect(() => createOperator({ adapter, bogus: 1 } as never)).toThrow(ConfigError);
    const operator = createOperator({ adapter });
    expect(operator.supports).toEqual({ deadLetters: true, replay: true, groups: true });
    await expect(operator.redrive(at, { ratePerSecond: 0 })).rejects.toMatchObject({
      field: 'ratePerSecond',
    });
    await expect(operator.purge({ topic: '', group: 'g' })).rejects.toMatchObject({
      field: 'selection.topic',
    });
    await expect(operator.replay('t', 'g', {} as never)).rejects.toMatchObject({ field: 'from' });
    // An adapter without the optional interfaces: its declared reason is the error's message.
    const plain = {
      ...adapter,
      name: 'plain',
      capabilities: {
        ...adapter.capabilities,
        operations: { deadLetters: 'no store here', replay: 'no log here' },
      },
      connect: () => adapter.connect(),
      publish: (records) => adapter.publish(records),
      subscribe: (spec, handler) => adapter.subscribe(spec, handler),
      close: () => adapter.close(),
    } satisfies BrokerAdapter;
    const limited = createOperator({ adapter: plain });
    expect(limited.supports).toEqual({
      deadLetters: 'no store here',
      replay: 'no log here',
      groups: 'the plain adapter does not list or delete consumer groups (GroupAdmin)',
    });
    await expect(limited.purge(at)).rejects.toBeInstanceOf(CapabilityUnavailableError);
    await expect(limited.groups(['t'])).rejects.toMatchObject({ capability: 'groups' });
    await expect(limited.replay('t', 'g', { time: new Date() })).rejects.toThrow(/no log here/);
  });

  it('strips the failure metadata and retry state from a redriven record', () => {
    expect(
      redriveHeaders({ ce_id: 'e-1', 'tidings-attempt': '3', 'tidings-dlq-reason': 'x', 'x-app': 'kept' }),
    ).toEqual({ ce_id: 'e-1', 'x-app': 'kept' });
  });
});
