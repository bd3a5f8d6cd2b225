import type { IncomingRecord, Settlement, SubscribeSpec } from '@tidings/core/adapter';
import { connect, type Msg, type NatsConnection } from 'nats';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createNatsCoreAdapter, type NatsAdapter } from '../src/index';
import { NATS_URL, uniqueName } from './support/nats';
import { pause, Waiter } from './support/waiter';

const ACK: Settlement = { type: 'ack' };
const prefix = uniqueName('tcore');
let raw: NatsConnection;
const open: NatsAdapter[] = [];

beforeAll(async () => {
  raw = await connect({ servers: NATS_URL });
});

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((a) => a.close({ signal: AbortSignal.timeout(3_000) })));
});

afterAll(async () => {
  await raw?.close();
});

async function adapter(maxBufferedRecords?: number): Promise<NatsAdapter> {
  const created = createNatsCoreAdapter({
    servers: NATS_URL,
    prefix,
    ...(maxBufferedRecords === undefined ? {} : { maxBufferedRecords }),
  });
  open.push(created);
  await created.connect();
  return created;
}

function spec(topic: string, overrides: Partial<SubscribeSpec> = {}): SubscribeSpec {
  return {
    group: uniqueName('g'),
    topics: [topic],
    concurrency: 1,
    ordering: 'none',
    startFrom: 'latest',
    maxAttempts: 5,
    handlerTimeoutMs: 5_000,
    ...overrides,
  };
}

describe('core NATS adapter', () => {
  it('publishes to <prefix>.<topic> with encoded headers, no partition and no message id', async () => {
    const nats = await adapter();
    const topic = uniqueName('wire');
    const seen: Msg[] = [];
    const waiter = new Waiter();
    raw.subscribe(`${prefix}.${topic}`, {
      max: 1,
      callback: (_error, msg) => {
        seen.push(msg);
        waiter.notify();
      },
    });
    await raw.flush();
    await nats.publish([
      { topic, key: 'k', headers: { 'ce-id': 'e1', 'ce-source': 'a b' }, body: Buffer.from('x') },
    ]);
    await waiter.until(
      () => seen.length === 1,
      10_000,
      () => 'nothing published',
    );
    expect(seen[0]!.headers?.get('ce-source')).toBe('a%20b');
    expect(seen[0]!.headers?.has('Nats-Msg-Id')).toBe(false);
  });

  it('retries in the consuming process, the attempt rising', async () => {
    const nats = await adapter();
    const topic = uniqueName('retry');
    const attempts: number[] = [];
    const waiter = new Waiter();
    await nats.subscribe(spec(topic), async (record: IncomingRecord) => {
      attempts.push(record.attempt);
      waiter.notify();
      return record.attempt < 3 ? { type: 'retry', delayMs: 50, headers: {} } : ACK;
    });
    await nats.publish([{ topic, key: undefined, headers: {}, body: Buffer.from('again') }]);
    await waiter.until(
      () => attempts.length === 3,
      10_000,
      () => `attempts ${attempts.join(', ')}`,
    );
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('drops what a slow subscriber cannot buffer, and says so', async () => {
    const nats = await adapter(5);
    const topic = uniqueName('slow');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const handled: string[] = [];
    const waiter = new Waiter();
    const subscription = await nats.subscribe(spec(topic), async (record) => {
      await gate;
      handled.push(Buffer.from(record.body).toString());
      waiter.notify();
      return ACK;
    });
    const records = Array.from({ length: 20 }, (_, i) => ({
      topic,
      key: undefined,
      headers: {},
      body: Buffer.from(`n${i}`),
    }));
    // Publisher and subscriber share the connection: the server sends the records before it
    // answers the publish's flush, so they have all arrived when publish resolves.
    await nats.publish(records);
    // One record runs, five wait in the buffer, the rest were dropped.
    expect(subscription.lastError?.message).toMatch(/dropped 14 record/);
    release();
    await waiter.until(
      () => handled.length === 6,
      10_000,
      () => `${handled.length} handled`,
    );
    await pause(200);
    expect(handled).toHaveLength(6);
    expect(subscription.lastError?.message).toMatch(/dropped 14 record/);
  });
});
