import { describeAdapter } from '@tidings/conformance';
import { afterAll } from 'vitest';
import { createRedisStreamsAdapter, type RedisStreamsAdapter } from '../src';
import { encodeFields } from '../src/codec';
import { adminConnection, deleteKeysMatching, killConnections, REDIS_URL } from './redis';

const namespace = `tc-redis-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

// The raw client of the hostile-input scenario: a plain ioredis connection, as a foreign producer has.
const raw = adminConnection();
afterAll(async () => {
  if (raw.status === 'ready') await raw.quit();
  else raw.disconnect();
});

describeAdapter({
  name: 'redis-streams',
  namespace,
  createAdapter: () => createRedisStreamsAdapter({ connection: REDIS_URL }),
  // Cuts both the command connection and the subscription readers, as a network failure would.
  dropConnection: async (adapter) => {
    await killConnections((adapter as RedisStreamsAdapter).connectionName);
  },
  unicodeTopics: true,
  // One XADD per record into the topic's stream (the adapter runs unsharded here), its fields laid
  // out as src/codec.ts reads them, plus what another producer might add: a reserved field this
  // version does not know (skipped) and a header whose value is not UTF-8.
  injectRaw: async (topic, records) => {
    if (raw.status === 'wait') await raw.connect();
    for (const record of records) {
      const fields = encodeFields({ key: record.key, headers: record.headers, body: record.body });
      fields.push('$tidings-future', 'ignored', 'x-raw-bytes', Buffer.from([0xff, 0xfe, 0xc3, 0x28]));
      await raw.xaddBuffer(topic, '*', ...fields);
    }
  },
  // Every stream, dead-letter stream and retry key of the run has the namespace in its name.
  cleanup: async () => {
    await deleteKeysMatching(`*${namespace}*`);
  },
});
