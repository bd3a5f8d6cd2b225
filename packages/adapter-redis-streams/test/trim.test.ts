import { afterEach, describe, expect, it } from 'vitest';
import { createRedisStreamsAdapter, type RedisStreamsAdapter } from '../src';
import { adminConnection, deleteKeysMatching, REDIS_URL, uniqueName } from './redis';
import { waitUntil } from './wait';

type Admin = ReturnType<typeof adminConnection>;

async function lastId(admin: Admin, topic: string): Promise<string | undefined> {
  const [last] = await admin.xrevrange(topic, '+', '-', 'COUNT', 1);
  return last?.[0];
}

/** Reads everything new for the group as one consumer; acknowledges all but `keep`. */
async function readAll(
  admin: Admin,
  topic: string,
  group: string,
  keep: (id: string) => boolean = () => false,
) {
  const reply = (await admin.xreadgroup('GROUP', group, 'reader', 'COUNT', 10_000, 'STREAMS', topic, '>')) as
    | [string, [string, string[]][]][]
    | null;
  const ids = (reply?.[0]?.[1] ?? []).map(([id]) => id);
  const settled = ids.filter((id) => !keep(id));
  if (settled.length > 0) await admin.xack(topic, group, ...settled);
  return ids;
}

async function exists(admin: Admin, topic: string, id: string): Promise<boolean> {
  return (await admin.xrange(topic, id, id)).length === 1;
}

describe('trimming', () => {
  let admin: Admin | undefined;
  let adapter: RedisStreamsAdapter | undefined;
  const made: string[] = [];

  afterEach(async () => {
    await adapter?.close();
    await admin?.quit();
    adapter = undefined;
    admin = undefined;
    for (const name of made.splice(0)) await deleteKeysMatching(`*${name}*`);
  });

  /** A stream with a group `g` created at its end, and an adapter that trims it to about 50. */
  async function setUp(keepUnsettled: boolean, intervalMs = 60_000) {
    admin = adminConnection();
    await admin.connect();
    const topic = uniqueName('trim');
    made.push(topic);
    adapter = createRedisStreamsAdapter({
      connection: REDIS_URL,
      trim: { maxLength: 50, keepUnsettled, intervalMs },
    });
    await adapter.connect();
    await admin.xgroup('CREATE', topic, 'g', '$', 'MKSTREAM');
    return { topic, admin, adapter };
  }

  /** Publishes `count` records, in batches of 100; returns their ids in order. */
  async function publish(admin: Admin, topic: string, label: string, count: number): Promise<string[]> {
    const before = await lastId(admin, topic);
    for (let i = 0; i < count; i += 100) {
      const batch = Array.from({ length: Math.min(100, count - i) }, (_, j) => ({
        topic,
        key: undefined,
        headers: {},
        body: Buffer.from(`${label}-${i + j}`),
      }));
      await adapter!.publish(batch);
    }
    const entries = await admin.xrange(topic, before === undefined ? '-' : `(${before}`, '+');
    return entries.map(([id]) => id);
  }

  it('never removes an entry that a group has pending or has not read yet', async () => {
    const { topic, admin, adapter } = await setUp(true);
    // 300 settled, then 5 left pending, then 300 settled.
    await publish(admin, topic, 'old', 300);
    await readAll(admin, topic, 'g');
    const held = await publish(admin, topic, 'held', 5);
    await readAll(admin, topic, 'g', () => true);
    await publish(admin, topic, 'new', 300);
    await readAll(admin, topic, 'g');

    const removed = await adapter.trim(topic);
    expect(removed, 'the settled entries before the pending ones go').toBeGreaterThan(0);
    for (const id of held) expect(await exists(admin, topic, id), `pending ${id} was trimmed`).toBe(true);
    expect(await admin.xlen(topic)).toBeGreaterThanOrEqual(305);

    // A second group that has read nothing holds everything from its start.
    await admin.xgroup('CREATE', topic, 'lagging', '$');
    const unread = await publish(admin, topic, 'unread', 300);
    await readAll(admin, topic, 'g', (id) => held.includes(id));
    await admin.xack(topic, 'g', ...held);
    await adapter.trim(topic);
    for (const id of unread) expect(await exists(admin, topic, id), `unread ${id} was trimmed`).toBe(true);

    // Once every group has settled everything, the stream comes down to about maxLength.
    await readAll(admin, topic, 'lagging');
    await adapter.trim(topic);
    // Approximate trimming removes whole nodes of up to 100 entries.
    expect(await admin.xlen(topic)).toBeLessThan(50 + 100);
  });

  it('trims by itself after publishing, at most once per interval', async () => {
    const { topic, admin } = await setUp(true, 1);
    await publish(admin, topic, 'a', 300);
    await readAll(admin, topic, 'g');
    await adapter!.publish([{ topic, key: undefined, headers: {}, body: Buffer.from('last') }]);
    await waitUntil(async () => (await admin.xlen(topic)) < 150, 10_000, 'the stream was trimmed');
  });

  it('with keepUnsettled: false, trims pending entries too (they are lost for their group)', async () => {
    const { topic, admin, adapter } = await setUp(false);
    const held = await publish(admin, topic, 'held', 5);
    await readAll(admin, topic, 'g', () => true);
    await publish(admin, topic, 'new', 300);
    await readAll(admin, topic, 'g');
    await adapter.trim(topic);
    expect(await admin.xlen(topic)).toBeLessThan(50 + 100);
    for (const id of held) expect(await exists(admin, topic, id)).toBe(false);
  });

  it('trims by age, keeping what a group has pending', async () => {
    const { topic, admin } = await setUp(true);
    const aged = createRedisStreamsAdapter({ connection: REDIS_URL, trim: { maxAgeMs: 60_000 } });
    try {
      // Entries from the first seconds of 1970: long past any age limit.
      for (let i = 1; i <= 300; i++) await admin.xadd(topic, `${i}-0`, 'n', String(i));
      await readAll(admin, topic, 'g', (id) => Number(id.split('-')[0]) > 150);
      expect(await aged.trim(topic)).toBeGreaterThan(0);
      expect(await exists(admin, topic, '1-0')).toBe(false);
      for (let i = 151; i <= 300; i++) expect(await exists(admin, topic, `${i}-0`)).toBe(true);
    } finally {
      await aged.close();
    }
  });
});
