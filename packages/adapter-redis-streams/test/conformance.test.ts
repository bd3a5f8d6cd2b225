import { describeAdapter } from '@tidings/conformance';
import { createRedisStreamsAdapter, type RedisStreamsAdapter } from '../src';
import { deleteKeysMatching, killConnections, REDIS_URL } from './redis';

const namespace = `tc-redis-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

describeAdapter({
  name: 'redis-streams',
  namespace,
  createAdapter: () => createRedisStreamsAdapter({ connection: REDIS_URL }),
  // Cuts both the command connection and the subscription readers, as a network failure would.
  dropConnection: async (adapter) => {
    await killConnections((adapter as RedisStreamsAdapter).connectionName);
  },
  unicodeTopics: true,
  // Every stream, dead-letter stream and retry key of the run has the namespace in its name.
  cleanup: async () => {
    await deleteKeysMatching(`*${namespace}*`);
  },
});
