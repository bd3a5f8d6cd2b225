import { describe, expect, it } from 'vitest';
import { ConfigError, MessageTooLargeError, PublishError } from '../../errors';
import type { OutgoingRecord, SubscribeSpec } from '../contract';
import { memoryCapabilities } from '../memory/adapter';
import { attemptOf } from './attempts';
import { KeyedDispatcher } from './dispatcher';
import { checkOutgoing } from './records';
import { isSettlement, RETRY_NOW, settlementHeaders } from './settlement';
import { checkSubscribeSpec } from './spec';
import { sleep, withTimeout } from './timers';

const spec: SubscribeSpec = {
  group: 'g',
  topics: ['t'],
  concurrency: 4,
  prefetch: 16,
  ordering: 'key',
  startFrom: 'latest',
  maxAttempts: 3,
  handlerTimeoutMs: 1_000,
};

describe('the adapter kit', () => {
  it.each([
    [{ group: '' }, 'group'],
    [{ topics: [] }, 'topics'],
    [{ topics: [''] }, 'topics'],
    [{ concurrency: 0 }, 'concurrency'],
    [{ prefetch: 3 }, 'prefetch'],
    [{ prefetch: 4.5 }, 'prefetch'],
    [{ prefetch: undefined }, 'prefetch'],
    [{ ordering: 'random' }, 'ordering'],
    [{ startFrom: 'middle' }, 'startFrom'],
    [{ maxAttempts: 0 }, 'maxAttempts'],
    [{ handlerTimeoutMs: -1 }, 'handlerTimeoutMs'],
  ])('checkSubscribeSpec names the bad field of %o', (override, field) => {
    const error = (() => {
      try {
        checkSubscribeSpec({ ...spec, ...override } as SubscribeSpec, memoryCapabilities);
      } catch (thrown) {
        return thrown;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe(field);
  });

  it('checkSubscribeSpec refuses key ordering where the adapter has none', () => {
    expect(() => checkSubscribeSpec(spec, { ...memoryCapabilities, ordering: 'none' })).toThrow(
      /does not order by key/,
    );
    expect(() => checkSubscribeSpec(spec, memoryCapabilities)).not.toThrow();
  });

  it('checkOutgoing refuses what a client would choke on, with typed errors', () => {
    const ok: OutgoingRecord = { topic: 't', key: 'k', headers: { a: 'b' }, body: Buffer.from('x') };
    expect(() => checkOutgoing([ok], memoryCapabilities)).not.toThrow();
    expect(() => checkOutgoing([{ ...ok, topic: '' }], memoryCapabilities)).toThrow(PublishError);
    expect(() => checkOutgoing([{ ...ok, key: 7 as unknown as string }], memoryCapabilities)).toThrow(
      /key must be a string/,
    );
    expect(() =>
      checkOutgoing([{ ...ok, headers: { n: 5 as unknown as string } }], memoryCapabilities),
    ).toThrow(/header "n" must be a string, got number/);
    expect(() =>
      checkOutgoing([{ ...ok, body: new Uint8Array(11) }], { ...memoryCapabilities, maxMessageBytes: 10 }),
    ).toThrow(MessageTooLargeError);
  });

  it('settlementHeaders writes the settlement over the record, keeping a __proto__ header', () => {
    const record = JSON.parse('{"__proto__":"kept","a":"1","b":"1"}') as Record<string, string>;
    const merged = settlementHeaders(record, { b: '2', 'tidings-attempt': '2' });
    expect({ ...merged }).toEqual(JSON.parse('{"__proto__":"kept","a":"1","b":"2","tidings-attempt":"2"}'));
    expect(Object.getPrototypeOf(merged)).toBeNull();
  });

  it('isSettlement and RETRY_NOW', () => {
    expect(isSettlement({ type: 'ack' })).toBe(true);
    expect(isSettlement({ type: 'nack' })).toBe(false);
    expect(isSettlement(undefined)).toBe(false);
    expect(RETRY_NOW).toEqual({ type: 'retry', delayMs: 0, headers: {} });
    expect(Object.isFrozen(RETRY_NOW)).toBe(true);
  });

  it.each([
    [{}, undefined, 1],
    [{}, 1, 1],
    [{}, 3, 3],
    [{ 'tidings-attempt': '2' }, undefined, 2],
    [{ 'tidings-attempt': '2' }, 1, 2],
    [{ 'tidings-attempt': '2' }, 2, 3],
    [{ 'tidings-attempt': 'zero' }, 2, 2],
    [{ 'tidings-attempt': '-4' }, undefined, 1],
    [{ 'tidings-attempt': '1e400' }, undefined, 1],
  ])('attemptOf(%o, %s) is %i', (headers, deliveries, attempt) => {
    expect(attemptOf(headers as Record<string, string>, deliveries)).toBe(attempt);
  });

  it('the dispatcher holds items while paused and starts them on resume', async () => {
    const started: number[] = [];
    const dispatcher = new KeyedDispatcher<number>({
      concurrency: 2,
      ordering: 'none',
      keyOf: () => undefined,
      run: async (item) => {
        started.push(item);
      },
    });
    dispatcher.pause();
    expect(dispatcher.paused).toBe(true);
    expect(dispatcher.room).toBe(0);
    dispatcher.push(1);
    dispatcher.push(2);
    await Promise.resolve();
    expect(started).toEqual([]);
    dispatcher.resume();
    await dispatcher.idle();
    expect(started).toEqual([1, 2]);
    expect(dispatcher.room).toBe(2);
  });

  it('sleep resolves true after the time, false when aborted', async () => {
    expect(await sleep(5)).toBe(true);
    const controller = new AbortController();
    const waiting = sleep(10_000, controller.signal);
    controller.abort();
    expect(await waiting).toBe(false);
  });

  it('withTimeout settles with the promise, or times out and reports a late outcome', async () => {
    expect(await withTimeout(Promise.resolve(1), 100, () => new Error('late'))).toBe(1);
    let late: unknown;
    const slow = new Promise<number>((resolve) => setTimeout(() => resolve(2), 30));
    await expect(
      withTimeout(
        slow,
        5,
        () => new Error('timed out'),
        (outcome) => {
          late = outcome;
        },
      ),
    ).rejects.toThrow('timed out');
    await slow;
    expect(late).toEqual({ value: 2 });
  });

  it('checkOutgoing refuses what is not records at all', () => {
    expect(() => checkOutgoing('x' as never, memoryCapabilities)).toThrow(/records must be an array/);
    expect(() => checkOutgoing([null] as never, memoryCapabilities)).toThrow(/a record must be an object/);
    expect(() =>
      checkOutgoing(
        [{ topic: 't', key: undefined, headers: null, body: Buffer.alloc(0) }] as never,
        memoryCapabilities,
      ),
    ).toThrow(/headers must be an object/);
  });
});
