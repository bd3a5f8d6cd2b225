import type { IncomingRecord, Settlement } from '@tidings/core/adapter';
import type { Msg, NatsConnection } from 'nats';
import { describe, expect, it } from 'vitest';
import { fromNatsHeaders, rawHeaderBlock } from '../src/codec';
import { createNatsCoreAdapter, type NatsAdapter } from '../src/index';
import { natsFixture } from './support/fixture';
import { NATS_URL, uniqueName } from './support/nats';
import { subscribeSpec } from './support/spec';
import { pause, Waiter } from './support/waiter';

const ACK: Settlement = { type: 'ack' };
const prefix = uniqueName('tcore');
const fx = natsFixture();
const raw = (): NatsConnection => fx.raw();

function adapter(maxBufferedRecords?: number): Promise<NatsAdapter> {
  return fx.open(
    createNatsCoreAdapter({
      servers: NATS_URL,
      prefix,
      ...(maxBufferedRecords === undefined ? {} : { maxBufferedRecords }),
    }),
  );
}

describe('core NATS adapter', () => {
  /** Publishes one record through the adapter and returns the message a plain subscriber got. */
  async function publishAndCatch(name: string, headers: Record<string, string>): Promise<Msg> {
    const nats = await adapter();
    const topic = uniqueName(name);
    const seen: Msg[] = [];
    const waiter = new Waiter();
    raw().subscribe(`${prefix}.${topic}`, {
      max: 1,
      callback: (_error, msg) => {
        seen.push(msg);
        waiter.notify();
      },
    });
    await raw().flush();
    await nats.publish([{ topic, key: 'k', headers, body: Buffer.from('x') }]);
    await waiter.until(
      () => seen.length === 1,
      10_000,
      () => 'nothing published',
    );
    return seen[0]!;
  }

  it('publishes to <prefix>.<topic> with encoded headers, no partition and no message id', async () => {
    const msg = await publishAndCatch('wire', { 'ce-id': 'e1', 'ce-source': 'a b' });
    expect(msg.headers?.get('ce-source')).toBe('a%20b');
    expect(msg.headers?.has('Nats-Msg-Id')).toBe(false);
  });

  it("finds a delivered message's raw header block where the adapter reads it (not nats.js's slower parse)", async () => {
    const msg = await publishAndCatch('raw-block', { 'ce-id': 'e1' });
    const block = rawHeaderBlock(msg);
    // Undefined here means nats.js moved the fields: records are still read, through its own parse.
    expect(block).toBeDefined();
    expect(new TextDecoder().decode(block).startsWith('NATS/1.0\r\n')).toBe(true);
    expect(fromNatsHeaders(msg)).toEqual(fromNatsHeaders(msg, () => undefined));
  });

  it('retries in the consuming process, the attempt rising by the kit rule', async () => {
    const nats = await adapter();
    const topic = uniqueName('retry');
    const attempts: Record<string, number[]> = { fresh: [], republished: [] };
    const waiter = new Waiter();
    await nats.subscribe(subscribeSpec(topic, { concurrency: 1 }), async (record: IncomingRecord) => {
      const list = attempts[Buffer.from(record.body).toString()]!;
      list.push(record.attempt);
      waiter.notify();
      return list.length < 3 ? { type: 'retry', delayMs: 50, headers: {} } : ACK;
    });
    await nats.publish([
      { topic, key: undefined, headers: {}, body: Buffer.from('fresh') },
      // Re-published for its 4th attempt elsewhere: it starts there.
      { topic, key: undefined, headers: { 'tidings-attempt': '4' }, body: Buffer.from('republished') },
    ]);
    await waiter.until(
      () => attempts.fresh!.length === 3 && attempts.republished!.length === 3,
      10_000,
      () => JSON.stringify(attempts),
    );
    expect(attempts).toEqual({ fresh: [1, 2, 3], republished: [4, 5, 6] });
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
    const subscription = await nats.subscribe(subscribeSpec(topic, { concurrency: 1 }), async (record) => {
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
