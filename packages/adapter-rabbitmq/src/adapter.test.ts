import type { OutgoingRecord, SubscribeSpec } from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import { createRabbitMQAdapter } from './adapter';

// Nothing here reaches a broker: every check runs before the adapter connects.
const adapter = createRabbitMQAdapter({ url: 'amqp://127.0.0.1:1', connectTimeoutMs: 100 });

const spec: SubscribeSpec = {
  group: 'g',
  topics: ['t'],
  concurrency: 1,
  prefetch: 1,
  ordering: 'none',
  startFrom: 'latest',
  maxAttempts: 3,
  handlerTimeoutMs: 1_000,
};

function record(overrides: Record<string, unknown>): OutgoingRecord {
  return { topic: 't', key: undefined, headers: {}, body: new Uint8Array(1), ...overrides } as OutgoingRecord;
}

describe('publish, with what a caller may pass', () => {
  it('refuses, with a PublishError and before connecting, what no adapter takes', async () => {
    const refused = [
      record({ headers: { 'x-count': 42 } }),
      record({ headers: { 'x-none': null } }),
      record({ key: 7 }),
      record({ body: 'text' }),
      record({ topic: 'audit.*' }),
      record({ headers: { ['x'.repeat(256)]: 'a name over 255 bytes, which AMQP alone refuses' } }),
    ];
    for (const bad of refused) {
      await expect(adapter.publish([bad])).rejects.toMatchObject({ name: 'PublishError', code: 'PUBLISH' });
    }
  });

  it('refuses what is no array of records with a PublishError, not a TypeError', async () => {
    for (const bad of [null, [null], [record({ headers: null })]]) {
      await expect(adapter.publish(bad as unknown as OutgoingRecord[])).rejects.toMatchObject({
        name: 'PublishError',
        code: 'PUBLISH',
      });
    }
  });

  it('refuses a body over maxMessageBytes with a MessageTooLargeError', async () => {
    const small = createRabbitMQAdapter({ url: 'amqp://127.0.0.1:1', maxMessageBytes: 8 });
    await expect(small.publish([record({ body: new Uint8Array(9) })])).rejects.toMatchObject({
      code: 'MESSAGE_TOO_LARGE',
      size: 9,
      limit: 8,
    });
  });
});

describe('subscribe, with what a caller may ask', () => {
  it('refuses key ordering and a concurrency over RabbitMQ’s largest prefetch, naming the field', async () => {
    const handler = async () => ({ type: 'ack' }) as const;
    await expect(adapter.subscribe({ ...spec, ordering: 'key' }, handler)).rejects.toMatchObject({
      code: 'CONFIG',
      field: 'ordering',
    });
    await expect(
      adapter.subscribe({ ...spec, concurrency: 65_536, prefetch: 65_536 }, handler),
    ).rejects.toMatchObject({
      code: 'CONFIG',
      field: 'concurrency',
    });
  });
});
