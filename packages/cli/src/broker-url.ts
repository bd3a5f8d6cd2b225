import type { BrokerAdapter } from '@tidings/core';
import { ConfigError } from '@tidings/core';
import { redactUrl } from '@tidings/core/adapter';

interface Scheme {
  readonly schemes: readonly string[];
  readonly pkg: string;
  readonly client: string;
  readonly make: (module: Record<string, unknown>, url: string) => BrokerAdapter;
}

type Factory = (options: Record<string, unknown>) => BrokerAdapter;

// Each adapter is an optional peer of the CLI: a project installs the ones it uses.
const SCHEMES: readonly Scheme[] = [
  {
    schemes: ['redis:', 'rediss:'],
    pkg: '@tidings/adapter-redis-streams',
    client: 'ioredis',
    make: (m, url) => (m.createRedisStreamsAdapter as Factory)({ connection: url }),
  },
  {
    schemes: ['kafka:'],
    pkg: '@tidings/adapter-kafka',
    client: '@platformatic/kafka',
    // kafka://host:9092,host2:9092: the brokers to bootstrap from. TLS and SASL need a config file.
    make: (m, url) =>
      (m.createKafkaAdapter as Factory)({
        brokers: url.slice('kafka://'.length).split(/[,/]/).filter(Boolean),
      }),
  },
  {
    schemes: ['amqp:', 'amqps:'],
    pkg: '@tidings/adapter-rabbitmq',
    client: 'amqplib',
    make: (m, url) => (m.createRabbitMQAdapter as Factory)({ url }),
  },
  {
    schemes: ['nats:', 'tls:'],
    pkg: '@tidings/adapter-nats',
    client: 'nats',
    make: (m, url) => (m.createNatsAdapter as Factory)({ servers: url }),
  },
];

/** The URL schemes `--broker` takes, for help texts. */
export const BROKER_SCHEMES = SCHEMES.flatMap((scheme) => scheme.schemes.map((s) => `${s}//`));

/**
 * Makes the adapter a broker URL names, from the adapter package installed beside the CLI.
 * Rejects with a `ConfigError` naming `broker` for an unknown scheme or a missing package; the
 * URL in a message is always redacted.
 */
export async function adapterFromUrl(url: string): Promise<BrokerAdapter> {
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new ConfigError('broker', `"${redactUrl(url)}" is not a URL (try ${BROKER_SCHEMES.join(', ')})`);
  }
  const scheme = SCHEMES.find((s) => s.schemes.includes(protocol));
  if (scheme === undefined) {
    throw new ConfigError(
      'broker',
      `no adapter for ${protocol}// URLs; the CLI knows ${BROKER_SCHEMES.join(', ')}`,
    );
  }
  let module: Record<string, unknown>;
  try {
    module = (await import(scheme.pkg)) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(
      'broker',
      `${protocol}// URLs need ${scheme.pkg} (and ${scheme.client}): npm install ${scheme.pkg} ${scheme.client}`,
      { cause: error },
    );
  }
  return scheme.make(module, url);
}
