import net from 'node:net';
import { Admin, type BaseOptions, type SASLOptions } from '@platformatic/kafka';
import { createAdapterLog } from '../../logging';
import type { ResolvedKafkaOptions } from '../../options';
import type { ConnectionWatcher, KafkaClient } from '../client';
import { platformaticAdmin } from './admin';
import { platformaticConsumers } from './consumer';
import { describeError, isConnectionProblem } from './errors';
import { platformaticProducers } from './producer';
import { platformaticLogReader } from './reader';
import { type EventSource, watchConnections } from './watch';

/**
 * The adapter's client on `@platformatic/kafka`: admin, producers, the group-less reader and the
 * group consumer, chosen with `client: 'platformatic'`.
 *
 * @module
 */

const SASL_MECHANISMS = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
  oauthbearer: 'OAUTHBEARER',
} as const;

/**
 * @internal The settings every platformatic client of the adapter is made with: the adapter's
 * brokers, timeouts, TLS and SASL, with the `platformatic` escape hatch over them.
 * @example
 * const admin = new Admin(baseOptions(resolveOptions({ brokers: ['127.0.0.1:9092'] })));
 */
export function baseOptions(options: ResolvedKafkaOptions): BaseOptions {
  const base: BaseOptions = {
    clientId: options.clientId,
    bootstrapBrokers: [...options.brokers],
    connectTimeout: options.connectionTimeoutMs,
    requestTimeout: options.requestTimeoutMs,
    // The broker-side timeout of a request that has one (Produce, CreateTopics): what kafkajs gives them.
    timeout: options.requestTimeoutMs,
    // Never create a topic by asking for its metadata: the adapter creates topics itself, with its settings.
    autocreateTopics: false,
  };
  if (options.tls !== undefined) {
    base.tls = { ...options.tls };
    // SNI with each broker's host name, as kafkajs and the Java client send it (cloud brokers route
    // on it); not for brokers reached by IP address, where Node refuses it.
    const named = options.brokers.some((broker) => net.isIP(broker.slice(0, broker.lastIndexOf(':'))) === 0);
    if (options.tls.servername === undefined && named) base.tlsServerName = true;
  }
  const sasl = options.sasl;
  if (sasl !== undefined) {
    const mechanism = SASL_MECHANISMS[sasl.mechanism];
    base.sasl = (
      sasl.mechanism === 'oauthbearer'
        ? { mechanism, token: sasl.token }
        : { mechanism, username: sasl.username, password: sasl.password }
    ) satisfies SASLOptions;
  }
  return {
    ...base,
    ...options.platformatic,
    clientId: base.clientId,
    bootstrapBrokers: base.bootstrapBrokers,
  };
}

/**
 * @internal The adapter's client on `@platformatic/kafka`.
 * @example
 * const client = platformaticClient(options, monitor);
 * const { admin, disconnect } = await client.connectAdmin();
 */
export function platformaticClient(
  options: ResolvedKafkaOptions,
  connections: ConnectionWatcher,
): KafkaClient {
  const base = baseOptions(options);
  // @platformatic/kafka has no logger of its own to hand: the adapter says what its connections do,
  // as kafkajs would in its own log.
  const log = createAdapterLog(options.logger, options.logLevel, options.redactor);
  const monitor: ConnectionWatcher = {
    lost(error) {
      log.log('warn', `kafka client: ${describeError(error)}`, { error });
      connections.lost(error);
    },
    watch: (client) => connections.watch(client),
  };
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
