import type { AnyEventContract, BrokerAdapter } from '@tidings/core';
import { contractJsonSchema, topicOfContract } from '@tidings/core';
import type { TidingsConfig } from './config';

/**
 * Settings of {@link createAsyncApiDocument}.
 *
 * @example
 * ```ts
 * const options: AsyncApiOptions = { title: 'Shop events', version: '1.4.0', server: { host: 'kafka-1:9092' } };
 * ```
 */
export interface AsyncApiOptions {
  /** `info.title`. Default `Tidings events`. */
  readonly title?: string;
  /** `info.version`, the version of the application's event API. Default `1.0.0`. */
  readonly version?: string;
  readonly description?: string;
  /** A server of the broker, to document where it is; its protocol follows the adapter. */
  readonly server?: { readonly host: string; readonly name?: string; readonly description?: string };
}

/** What the document needs of the adapter: its name (the protocol) and how it names headers. */
export type AsyncApiAdapter = Pick<BrokerAdapter, 'name' | 'capabilities'>;

/** A warning met while writing the document (an opaque schema), for the user to see. */
export interface AsyncApiResult {
  readonly document: Record<string, unknown>;
  readonly warnings: readonly string[];
}

/** AsyncAPI's protocol name and binding key for each adapter; Redis Streams has none of its own. */
const PROTOCOLS: Readonly<Record<string, { protocol: string; binding: string | undefined }>> = {
  kafka: { protocol: 'kafka', binding: 'kafka' },
  rabbitmq: { protocol: 'amqp', binding: 'amqp' },
  nats: { protocol: 'nats', binding: 'nats' },
  redis: { protocol: 'redis', binding: undefined },
  memory: { protocol: 'tidings-memory', binding: undefined },
};

// The binding versions this writer follows (github.com/asyncapi/bindings).
const KAFKA_BINDING = '0.5.0';
const AMQP_BINDING = '0.3.0';
const NATS_BINDING = '0.1.0';

/**
 * An AsyncAPI 3.0 document of the application's events, from its config: one message per contract
 * (its data's JSON Schema, the CloudEvents attributes as headers under the adapter's prefix), a
 * channel per topic, a `send` operation per producer and event, a `receive` operation per consumer
 * group and event, and the bindings AsyncAPI defines for Kafka, AMQP and NATS (Redis Streams as the
 * `x-tidings-redis-streams` extension). A contract whose schema library gives no JSON Schema gets
 * an open payload and a warning.
 *
 * @example
 * ```ts
 * import { createAsyncApiDocument } from '@tidings/cli';
 *
 * const { document, warnings } = createAsyncApiDocument(config, adapter, { title: 'Shop', version: '2.0.0' });
 * ```
 */
export function createAsyncApiDocument(
  config: Omit<TidingsConfig, 'adapter'>,
  adapter: AsyncApiAdapter,
  options: AsyncApiOptions = {},
): AsyncApiResult {
  const warnings: string[] = [];
  const kind = PROTOCOLS[adapter.name] ?? { protocol: adapter.name, binding: undefined };
  const prefix = adapter.capabilities.headerPrefix;
  const contracts = uniqueContracts(config);
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  const channelOf = new Map<string, string>();

  for (const contract of contracts) {
    const topic = topicOfContract(config, contract);
    const messageId = idOf(`${contract.type}.v${contract.version}`);
    messages[messageId] = message(contract, prefix, kind.binding, warnings);
    let channelId = channelOf.get(topic);
    if (channelId === undefined) {
      channelId = idOf(topic);
      channelOf.set(topic, channelId);
      channels[channelId] = {
        address: topic,
        messages: {},
        ...channelBindings(kind.binding, topic, adapter),
      };
    }
    (channels[channelId] as { messages: Record<string, unknown> }).messages[messageId] = {
      $ref: `#/components/messages/${messageId}`,
    };
  }

  const operation = (
    action: 'send' | 'receive',
    who: string,
    events: readonly AnyEventContract[],
    group?: string,
  ) => {
    for (const contract of events) {
      const topic = topicOfContract(config, contract);
      const channelId = channelOf.get(topic)!;
      const messageId = idOf(`${contract.type}.v${contract.version}`);
      operations[idOf(`${who}.${action}.${contract.type}`)] = {
        action,
        channel: { $ref: `#/channels/${channelId}` },
        messages: [{ $ref: `#/channels/${channelId}/messages/${messageId}` }],
        summary:
          action === 'send'
            ? `${who} publishes ${contract.type}`
            : `consumer group ${group} receives ${contract.type}`,
        ...(action === 'receive' ? receiveBindings(kind.binding, adapter.name, group!, topic) : {}),
      };
    }
  };
  for (const producer of config.producers ?? []) operation('send', producer.name, producer.events);
  for (const subscription of config.subscriptions ?? []) {
    operation('receive', subscription.group, subscription.events, subscription.group);
  }

  const document: Record<string, unknown> = {
    asyncapi: '3.0.0',
    info: {
      title: options.title ?? 'Tidings events',
      version: options.version ?? '1.0.0',
      description:
        options.description ??
        `The events of this application as CloudEvents 1.0 in binary content mode on ${adapter.name}, written by Tidings.`,
    },
    defaultContentType: 'application/json',
    ...(options.server === undefined
      ? {}
      : {
          servers: {
            [idOf(options.server.name ?? adapter.name)]: {
              host: options.server.host,
              protocol: kind.protocol,
              ...(options.server.description === undefined
                ? {}
                : { description: options.server.description }),
            },
          },
        }),
    channels,
    operations,
    components: { messages },
  };
  return { document, warnings };
}

function uniqueContracts(config: Omit<TidingsConfig, 'adapter'>): AnyEventContract[] {
  const all = [
    ...(config.events ?? []),
    ...(config.producers ?? []).flatMap((p) => p.events),
    ...(config.subscriptions ?? []).flatMap((s) => s.events),
  ];
  const seen = new Map<string, AnyEventContract>();
  for (const contract of all) seen.set(`${contract.type}@${contract.version}`, contract);
  return [...seen.values()];
}

function message(
  contract: AnyEventContract,
  prefix: string,
  binding: string | undefined,
  warnings: string[],
): Record<string, unknown> {
  const described = contractJsonSchema(contract, { target: 'draft-07' });
  let payload: Record<string, unknown>;
  if (described.schema === undefined) {
    warnings.push(
      `${contract.type}: ${described.reason ?? 'no JSON Schema'}; its payload is documented as any JSON value`,
    );
    payload = { description: `Not described: ${described.reason ?? 'no JSON Schema'}.` };
  } else {
    const { $schema: _dialect, ...schema } = described.schema;
    payload = schema;
  }
  const header = (name: string, schema: Record<string, unknown>) => [`${prefix}${name}`, schema] as const;
  const headers = {
    type: 'object',
    description: 'CloudEvents 1.0 attributes in binary content mode, under the broker binding prefix.',
    properties: Object.fromEntries([
      header('id', { type: 'string', description: 'Event id, a UUIDv7 unless the producer set one.' }),
      header('source', { type: 'string', description: 'The producing service.' }),
      header('type', { type: 'string', const: contract.type }),
      header('specversion', { type: 'string', const: '1.0' }),
      header('time', { type: 'string', format: 'date-time' }),
      header('subject', { type: 'string' }),
      header('eventversion', {
        type: 'string',
        description: `Version of the contract the data was written with; ${contract.version} now, older versions are upcast on receipt.`,
      }),
      header('partitionkey', { type: 'string', description: 'The ordering key.' }),
      header('traceparent', { type: 'string', description: 'W3C trace context.' }),
      header('tracestate', { type: 'string' }),
      header('correlationid', { type: 'string' }),
      header('causationid', { type: 'string' }),
    ]),
    required: [`${prefix}id`, `${prefix}source`, `${prefix}type`, `${prefix}specversion`],
  };
  return {
    name: contract.type,
    title: `${contract.type} v${contract.version}`,
    ...(contract.description === undefined ? {} : { summary: contract.description }),
    contentType: 'application/json',
    headers,
    payload,
    ...(binding === 'kafka' && contract.key !== undefined
      ? {
          bindings: {
            kafka: { key: { type: 'string', description: 'The event key.' }, bindingVersion: KAFKA_BINDING },
          },
        }
      : {}),
  };
}

function channelBindings(
  binding: string | undefined,
  topic: string,
  adapter: AsyncApiAdapter,
): Record<string, unknown> {
  switch (binding) {
    case 'kafka':
      return { bindings: { kafka: { topic, bindingVersion: KAFKA_BINDING } } };
    case 'amqp':
      return {
        bindings: {
          amqp: {
            is: 'routingKey',
            exchange: { name: 'tidings', type: 'topic', durable: true, autoDelete: false, vhost: '/' },
            bindingVersion: AMQP_BINDING,
          },
        },
      };
    default:
      return adapter.name === 'redis' ? { 'x-tidings-redis-streams': { stream: topic } } : {};
  }
}

function receiveBindings(
  binding: string | undefined,
  adapter: string,
  group: string,
  topic: string,
): Record<string, unknown> {
  switch (binding) {
    case 'kafka':
      return {
        bindings: { kafka: { groupId: { type: 'string', enum: [group] }, bindingVersion: KAFKA_BINDING } },
      };
    case 'amqp':
      return {
        bindings: { amqp: { ack: true, bindingVersion: AMQP_BINDING } },
        'x-tidings-queue-group': group,
      };
    case 'nats':
      return { bindings: { nats: { queue: group, bindingVersion: NATS_BINDING } } };
    default:
      return adapter === 'redis'
        ? { 'x-tidings-redis-streams': { stream: topic, consumerGroup: group } }
        : { 'x-tidings-group': group };
  }
}

/** An AsyncAPI component or channel id: letters, digits, `.`, `_` and `-` only. */
function idOf(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}
