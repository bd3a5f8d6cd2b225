import { Admin, type BaseOptions } from '@platformatic/kafka';
import { ConfigError } from '@tidings/core/adapter';
import type { ResolvedKafkaOptions } from '../../options';
import type { ConnectionWatcher, KafkaClient } from '../client';
import { platformaticAdmin } from './admin';
import { platformaticConsumers } from './consumer';
import { isConnectionProblem } from './errors';
import { platformaticProducers } from './producer';
import { platformaticLogReader } from './reader';
import { type EventSource, watchConnections } from './watch';

/**
 * The adapter's client on `@platformatic/kafka` (issue 18): admin, producers, the group-less reader
 * and the group consumer. Nothing selects it yet: only the client contract test makes it.
 *
 * @module
 */

/**
 * @internal The settings every platformatic client of the adapter is made with. TLS, SASL and the
 * kafkajs escape hatch are not translated yet: a configuration that has them fails here rather than
 * connecting in the clear.
 * @example
 * const admin = new Admin(baseOptions(resolveOptions({ brokers: ['127.0.0.1:9092'] })));
 */
export function baseOptions(options: ResolvedKafkaOptions): BaseOptions {
  const untranslated = Object.keys(options.clientConfig);
  if (untranslated.length > 0) {
    throw new ConfigError(
      untranslated.join(', '),
      'cannot be given to the @platformatic/kafka client yet (issue 18)',
    );
  }
  return {
    clientId: options.clientId,
    bootstrapBrokers: [...options.brokers],
    connectTimeout: options.connectionTimeoutMs,
    requestTimeout: options.requestTimeoutMs,
    // The broker-side timeout of a request that has one (Produce, CreateTopics): what kafkajs gives them.
    timeout: options.requestTimeoutMs,
    // Never create a topic by asking for its metadata: the adapter creates topics itself, with its settings.
    autocreateTopics: false,
  };
}

/**
 * @internal The adapter's client on `@platformatic/kafka`.
 * @example
 * const client = platformaticClient(options, monitor);
 * const { admin, disconnect } = await client.connectAdmin();
 */
export function platformaticClient(options: ResolvedKafkaOptions, monitor: ConnectionWatcher): KafkaClient {
  const base = baseOptions(options);
  return {
    producers: platformaticProducers(base, monitor),
    consumers: platformaticConsumers(base, monitor),
    reader: platformaticLogReader(base),
    async connectAdmin() {
      const admin = new Admin(base);
      const unwatch = watchConnections(admin as unknown as EventSource, monitor);
      const disconnect = async (): Promise<void> => {
        unwatch();
        await admin.close().catch(() => undefined);
      };
      try {
        // platformatic connects on first use: one metadata request proves a broker answers.
        await admin.metadata({ topics: [], forceUpdate: true });
      } catch (error) {
        if (isConnectionProblem(error)) monitor.lost(error);
        await disconnect();
        throw error;
      }
      return { admin: platformaticAdmin(admin), disconnect };
    },
  };
}
