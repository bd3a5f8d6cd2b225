import net from 'node:net';
import tls from 'node:tls';
import type { ISocketFactory, KafkaConfig } from 'kafkajs';
import { kafkajsLogCreator, kafkajsLogLevel } from '../../logging';
import type { ResolvedKafkaOptions } from '../../options';
import type { ConnectionWatcher, InstrumentedClient, KafkaClient } from '../client';
import { kafkajsAdmin } from './admin';
import { kafkajsConsumers } from './consumer';
import { kafkajs } from './module';
import { kafkajsProducers } from './producer';
import { kafkajsLogReader } from './reader';

/**
 * The adapter's client on kafkajs: one `Kafka` for every producer, consumer, admin and reader of
 * the adapter, with every socket and every client's request events seen by the connection monitor.
 *
 * @module
 */

/** kafkajs's default socket keep-alive, kept when the adapter makes the sockets. */
const KEEP_ALIVE_MS = 60_000;

/** kafkajs's own socket factory (it does not export it): TLS when asked, keep-alive on. */
const defaultSocketFactory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
  const socket = ssl
    ? tls.connect({ host, port, ...(net.isIP(host) === 0 ? { servername: host } : {}), ...ssl }, onConnect)
    : net.connect({ host, port }, onConnect);
  socket.setKeepAlive(true, KEEP_ALIVE_MS);
  return socket;
};

/**
 * @internal A socket factory whose sockets report their errors to `monitor` as a lost connection,
 * around `inner` (the user's, from the `kafkajs` escape hatch) or kafkajs's default.
 * @example
 * new Kafka({ brokers, socketFactory: monitoredSocketFactory(monitor, undefined) });
 */
export function monitoredSocketFactory(
  monitor: Pick<ConnectionWatcher, 'lost'>,
  inner: ISocketFactory | undefined,
): ISocketFactory {
  const make = inner ?? defaultSocketFactory;
  return (args) => {
    const socket = make(args);
    socket.on('error', (error) => monitor.lost(error));
    return socket;
  };
}

/**
 * @internal What `new Kafka()` is given for the adapter's TLS and SASL options, with the `kafkajs`
 * escape hatch over them: what it sets is what the user asked kafkajs for.
 * @example
 * new Kafka({ brokers, ...kafkajsSecurity(resolveOptions({ brokers, ssl: true })) });
 */
export function kafkajsSecurity(options: ResolvedKafkaOptions): Partial<KafkaConfig> {
  const config: Partial<KafkaConfig> = {};
  if (options.tls !== undefined) config.ssl = { ...options.tls };
  const sasl = options.sasl;
  if (sasl?.mechanism === 'oauthbearer') {
    config.sasl = {
      mechanism: 'oauthbearer',
      oauthBearerProvider: async () => ({ value: await sasl.token() }),
    };
  } else if (sasl !== undefined) {
    config.sasl = { ...sasl } as NonNullable<KafkaConfig['sasl']>;
  }
  return { ...config, ...(options.kafkajs as Partial<KafkaConfig>) };
}

/**
 * @internal The adapter's client on kafkajs.
 * @example
 * const client = kafkajsClient(options, monitor);
 * const { admin, disconnect } = await client.connectAdmin();
 */
export function kafkajsClient(options: ResolvedKafkaOptions, monitor: ConnectionWatcher): KafkaClient {
  const { logger, logLevel, redactor } = options;
  const security = kafkajsSecurity(options);
  const kafka = new (kafkajs().Kafka)({
    ...security,
    brokers: [...options.brokers],
    clientId: options.clientId,
    connectionTimeout: options.connectionTimeoutMs,
    requestTimeout: options.requestTimeoutMs,
    // Every socket of every client goes through the monitor: a refused or reset one is a lost connection.
    socketFactory: monitoredSocketFactory(monitor, (options.kafkajs as Partial<KafkaConfig>).socketFactory),
    logLevel: kafkajsLogLevel(logger, logLevel),
    logCreator: kafkajsLogCreator(logger, redactor),
  });
  const watch = (client: InstrumentedClient) => monitor.watch(client);
  return {
    producers: kafkajsProducers(kafka, watch),
    consumers: kafkajsConsumers(kafka, watch),
    reader: kafkajsLogReader(kafka),
    async connectAdmin() {
      const admin = kafka.admin();
      const unwatch = watch(admin as unknown as InstrumentedClient);
      const disconnect = async (): Promise<void> => {
        unwatch();
        await admin.disconnect().catch(() => undefined);
      };
      try {
        await admin.connect();
      } catch (error) {
        await disconnect();
        throw error;
      }
      return { admin: kafkajsAdmin(admin), disconnect };
    },
  };
}
