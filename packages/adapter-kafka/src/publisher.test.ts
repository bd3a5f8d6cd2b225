import { PublishError } from '@tidings/core/adapter';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { KafkaProducerClient, TopicMessages } from './client/producer';
import type { KafkaConnection } from './connection';
import { createAdapterLog } from './logging';
import { resolveOptions } from './options';
import { Publisher } from './publisher';

/** A publisher whose producer holds every send until the test answers it. */
function publisherWithHeldSends(publishTimeoutMs: number) {
  const sends: { batch: readonly TopicMessages[]; ack: () => void }[] = [];
  const producer: KafkaProducerClient = {
    connect: async () => undefined,
    send: (batch) => new Promise<void>((ack) => sends.push({ batch, ack })),
    disconnect: async () => undefined,
  };
  const connection = {
    producers: { compressionAvailable: () => true, producer: () => producer },
    monitor: { lost() {} },
  } as unknown as KafkaConnection;
  const options = resolveOptions({ brokers: ['127.0.0.1:9092'], producer: { publishTimeoutMs } });
  const publisher = new Publisher(connection, options, createAdapterLog(undefined, 'info'));
  return { publisher, sends };
}

const record = (topic: string) => ({ topic, key: 'k', headers: { a: 'b' }, body: new Uint8Array([1]) });

describe('Publisher timeouts', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fails each call that is not acknowledged in time, oldest first, naming its topic', async () => {
    vi.useFakeTimers();
    const { publisher, sends } = publisherWithHeldSends(1_000);
    const first = publisher.publish([record('orders')]);
    await vi.advanceTimersByTimeAsync(400);
    const second = publisher.publish([record('payments')]);
    const outcomes: string[] = [];
    first.catch((error: unknown) => outcomes.push(`first ${(error as Error).message}`));
    second.catch((error: unknown) => outcomes.push(`second ${(error as Error).message}`));
    await vi.advanceTimersByTimeAsync(700);
    expect(outcomes).toHaveLength(1);
    await expect(first).rejects.toBeInstanceOf(PublishError);
    await expect(first).rejects.toThrow('"orders" was not acknowledged within 1000 ms');
    await vi.advanceTimersByTimeAsync(400);
    await expect(second).rejects.toThrow('"payments" was not acknowledged within 1000 ms');
    for (const send of sends) send.ack();
  });

  it('resolves acknowledged calls and leaves no timer behind once none is open', async () => {
    vi.useFakeTimers();
    const { publisher, sends } = publisherWithHeldSends(1_000);
    const calls = [publisher.publish([record('orders')]), publisher.publish([record('orders')])];
    await vi.advanceTimersByTimeAsync(0);
    expect(vi.getTimerCount()).toBe(1);
    while (sends.length > 0) {
      sends.shift()!.ack();
      await vi.advanceTimersByTimeAsync(0);
    }
    await expect(Promise.all(calls)).resolves.toEqual([undefined, undefined]);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(2_000);
  });
});
