import { describe, expect, it } from 'vitest';
import { ConfigError, PublishError } from '../../errors';
import type { IncomingRecord, OutgoingRecord, Settlement } from '../contract';
import { HandedOverRecord } from '../handed-over';
import { createMemoryAdapter } from './adapter';
import { createMemoryBroker } from './broker';

const ACK: Settlement = { type: 'ack' };
const spec = (
  group: string,
  topics: string[],
  extra: Partial<{ ordering: 'key' | 'none'; startFrom: 'earliest' | 'latest'; concurrency: number }> = {},
) => ({
  group,
  topics,
  concurrency: extra.concurrency ?? 4,
  prefetch: extra.concurrency ?? 4,
  ordering: extra.ordering ?? 'none',
  startFrom: extra.startFrom ?? 'latest',
  maxAttempts: 5,
  handlerTimeoutMs: 1_000,
});
const rec = (topic: string, body: string, key?: string): OutgoingRecord => ({
  topic,
  key,
  headers: {},
  body: Buffer.from(body),
});

describe('in-memory broker specifics', () => {
  it('makes publishers wait while a group queue is full, and fails them after the timeout', async () => {
    const adapter = createMemoryAdapter({ maxQueuedRecords: 2, publishTimeoutMs: 100 });
    await adapter.connect();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const seen: string[] = [];
    await adapter.subscribe(spec('slow', ['t'], { concurrency: 1 }), async (record) => {
      seen.push(Buffer.from(record.body).toString());
      await gate;
      return ACK;
    });
    await adapter.publish([rec('t', '1'), rec('t', '2')]);
    const waiting = adapter.publish([rec('t', '3')]);
    let done = false;
    void waiting.then(() => {
      done = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(done).toBe(false);
    release();
    await waiting;
    await expect(
      (async () => {
        // Nobody consumes group "idle": the fourth record finds no room.
        await adapter.subscribe(spec('idle', ['u']), () => new Promise<Settlement>(() => undefined));
        await adapter.publish([
          rec('u', 'a'),
          rec('u', 'b'),
          rec('u', 'c'),
          rec('u', 'd'),
          rec('u', 'e'),
          rec('u', 'f'),
        ]);
      })(),
    ).rejects.toBeInstanceOf(PublishError);
    await adapter.close({ signal: AbortSignal.timeout(50) });
  });

  it('replays only the retained records to a new group starting at the earliest', async () => {
    const adapter = createMemoryAdapter({ retainedRecords: 3 });
    await adapter.connect();
    await adapter.publish(['1', '2', '3', '4', '5'].map((body) => rec('t', body)));
    const seen: string[] = [];
    await adapter.subscribe(
      spec('late', ['t'], { startFrom: 'earliest', concurrency: 1 }),
      async (record) => {
        seen.push(Buffer.from(record.body).toString());
        return ACK;
      },
    );
    await adapter.publish([rec('t', '6')]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(seen).toEqual(['3', '4', '5', '6']);
    await adapter.close();
  });

  it('keeps its own copy of what was published', async () => {
    const adapter = createMemoryAdapter();
    await adapter.connect();
    let got: IncomingRecord | undefined;
    await adapter.subscribe(spec('g', ['t']), async (record) => {
      got = record;
      return ACK;
    });
    const body = Buffer.from('original');
    const headers: Record<string, string> = { h: 'original' };
    const publishing = adapter.publish([{ topic: 't', key: undefined, headers, body }]);
    body.write('mutated!');
    headers.h = 'mutated';
    await publishing;
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(Buffer.from(got!.body).toString()).toBe('original');
    expect(got!.headers.h).toBe('original');
    await adapter.close();
  });

  it('keeps a handed-over record as it is, frozen, and a plain one as a frozen copy', async () => {
    const adapter = createMemoryAdapter();
    await adapter.connect();
    const got: IncomingRecord[] = [];
    await adapter.subscribe(spec('g', ['t']), async (record) => {
      got.push(record);
      return ACK;
    });
    const plain = { topic: 't', key: undefined, headers: { h: 'plain' }, body: Buffer.from('plain') };
    const handedOver = new HandedOverRecord('t', 'k', { h: 'handed over' }, Buffer.from('handed over'));
    await adapter.publish([plain, handedOver]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(got.map((record) => Buffer.from(record.body).toString())).toEqual(['plain', 'handed over']);
    expect(got[0]!.headers).not.toBe(plain.headers);
    expect(got[0]!.body).not.toBe(plain.body);
    expect(got[1]!.headers).toBe(handedOver.headers);
    expect(got[1]!.body).toBe(handedOver.body);
    expect(got[1]!.key).toBe('k');
    for (const record of got) expect(Object.isFrozen(record.headers)).toBe(true);
    await adapter.close();
  });

  it('gives a dead letter headers and a body of its own', async () => {
    const adapter = createMemoryAdapter();
    await adapter.connect();
    let original: IncomingRecord | undefined;
    await adapter.subscribe(spec('g', ['t']), async (record) => {
      original = record;
      return { type: 'deadLetter', topic: 't.dlq', reason: 'bad', headers: { why: 'bad' } };
    });
    let letter: IncomingRecord | undefined;
    await adapter.subscribe(spec('dlq', ['t.dlq']), async (record) => {
      letter = record;
      return ACK;
    });
    await adapter.publish([{ topic: 't', key: 'k', headers: { h: 'v' }, body: Buffer.from('body') }]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(letter!.headers).toEqual({ h: 'v', why: 'bad' });
    expect(letter!.key).toBe('k');
    expect(Object.isFrozen(letter!.headers)).toBe(true);
    // A handler that writes into the body it was given does not change the dead letter.
    (original!.body as Buffer).write('BODY');
    expect(Buffer.from(letter!.body).toString()).toBe('body');
    await adapter.close();
  });

  it('refuses members of one group with different ordering, and reorganizes an idle group', async () => {
    const broker = createMemoryBroker();
    const adapter = createMemoryAdapter({ broker });
    await adapter.connect();
    const sub = await adapter.subscribe(spec('g', ['t'], { ordering: 'key' }), async () => ACK);
    await expect(
      adapter.subscribe(spec('g', ['t'], { ordering: 'none' }), async () => ACK),
    ).rejects.toBeInstanceOf(ConfigError);
    await sub.close();
    await adapter.publish([rec('t', 'a', 'k'), rec('t', 'b', 'k'), rec('t', 'c')]);
    const seen: string[] = [];
    await adapter.subscribe(spec('g', ['t'], { ordering: 'none', concurrency: 1 }), async (record) => {
      seen.push(Buffer.from(record.body).toString());
      return ACK;
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(seen).toEqual(['a', 'b', 'c']);
    await adapter.close();
  });

  it('forgets a deleted group, so publishers no longer wait for it', async () => {
    const broker = createMemoryBroker({ maxQueuedRecords: 1, publishTimeoutMs: 50 });
    const adapter = createMemoryAdapter({ broker });
    await adapter.connect();
    const sub = await adapter.subscribe(spec('gone', ['t']), () => new Promise<Settlement>(() => undefined));
    await adapter.publish([rec('t', '1')]);
    expect(() => broker.deleteGroup('gone')).toThrow(ConfigError);
    await sub.close({ signal: AbortSignal.timeout(10) });
    broker.deleteGroup('gone');
    await adapter.publish([rec('t', '2'), rec('t', '3')]);
    expect(broker.stats()).toEqual([]);
    await adapter.close();
  });

  it('reports its group lag per topic', async () => {
    const adapter = createMemoryAdapter();
    await adapter.connect();
    const subscription = await adapter.subscribe(
      spec('lagging', ['t', 'u']),
      () => new Promise<Settlement>(() => undefined),
    );
    await adapter.publish([rec('t', '1'), rec('t', '2'), rec('u', '3')]);
    expect(await (subscription as unknown as { lag(): Promise<unknown> }).lag()).toEqual([
      { topic: 't', messages: 2 },
      { topic: 'u', messages: 1 },
    ]);
    await adapter.close({ signal: AbortSignal.timeout(10) });
  });

  it('checks its options', () => {
    expect(() => createMemoryBroker({ maxQueuedRecords: 0 })).toThrow(ConfigError);
    expect(() => createMemoryBroker({ retainedRecords: -1 })).toThrow(ConfigError);
    expect(() => createMemoryAdapter({ maxMessageBytes: 0 })).toThrow(ConfigError);
  });

  it('treats a handler that rejects as a retry without delay', async () => {
    const adapter = createMemoryAdapter();
    await adapter.connect();
    const attempts: number[] = [];
    await adapter.subscribe(spec('g', ['t']), async (record) => {
      attempts.push(record.attempt);
      if (record.attempt === 1) throw new Error('core bug');
      return ACK;
    });
    await adapter.publish([rec('t', 'x')]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(attempts).toEqual([1, 2]);
    await adapter.close();
  });
});
