// The middle ground the seed material names, and warns about: the order service sends each step
// as a command through a broker, and waits for the result before it answers the customer
// (request/reply over RabbitMQ, with its direct reply-to). Workers take the commands from one
// queue per service and call the services over the same HTTP clients as the other designs. The
// order service itself is the synchronous chain's code (sync-chain.ts), given the services below
// in place of the HTTP clients: only the transport differs.
//
// Tidings has no request/reply on purpose (an event is a fact, not a question), so this is plain
// amqplib, written the way RabbitMQ's RPC tutorial does it: non-durable queues, non-persistent
// messages, a per-message expiry so that the broker drops a command whose caller gave up.
import { randomUUID } from 'node:crypto';
import { type Channel, type ConsumeMessage, connect } from 'amqplib';
import type { AnalyticsSink } from '../src/services/analytics-sink';
import {
  type EmailProvider,
  EmailRejectedError,
  EmailUnavailableError,
} from '../src/services/email-provider';
import { type InventoryService, OutOfStockError } from '../src/services/inventory';
import { PaymentDeclinedError, type PaymentService } from '../src/services/payment';
import type { Warehouse } from '../src/services/warehouse';
import { DownstreamError } from './http-clients';
import { SERVICES, type ServiceName } from './services';

/** The services of the workflow, whatever carries the calls. */
export interface DownstreamClients {
  readonly payments: PaymentService;
  readonly inventory: InventoryService;
  readonly email: EmailProvider;
  readonly analytics: AnalyticsSink;
  readonly warehouse: Warehouse;
}

type Operation = 'authorize' | 'void' | 'reserve' | 'release' | 'send' | 'track' | 'prepare';

interface Command {
  readonly op: Operation;
  readonly payload: unknown;
}

type Outcome =
  | { readonly ok: true; readonly result: unknown }
  | {
      readonly ok: false;
      readonly error: 'declined' | 'out-of-stock' | 'unavailable' | 'rejected' | 'failed';
      readonly message: string;
      readonly status: number;
    };

/** The queue a service's commands wait in. */
export function commandQueue(namespace: string, service: ServiceName): string {
  return `${namespace}.cmd.${service}`;
}

const REPLY_TO = 'amq.rabbitmq.reply-to';

/** No result came back in time: the worker is slow, the service stalled, or the command expired. */
export class CommandTimeoutError extends Error {
  override readonly name = 'CommandTimeoutError';
}

/** Settings of {@link createCommandClient} and {@link serveCommands}. */
export interface CommandQueueOptions {
  readonly url: string;
  /** Prefix of the queue names. */
  readonly namespace: string;
}

/** The order service's side: the services as commands, and the connection to close. */
export interface CommandClient {
  readonly services: DownstreamClients;
  close(): Promise<void>;
}

/**
 * Connects the order service's side: each call sends a command and resolves with the reply, or
 * rejects after `timeoutMs` (the command then expires in its queue).
 *
 * @example
 * ```ts
 * const client = await createCommandClient({ url, namespace: 'rpc1', timeoutMs: 30_000 });
 * const { paymentId } = await client.services.payments.authorize(request);
 * ```
 */
export async function createCommandClient(
  options: CommandQueueOptions & { readonly timeoutMs: number },
): Promise<CommandClient> {
  const connection = await connect(options.url);
  const channel = await connection.createChannel();
  channel.on('error', (error: Error) => console.error('command client channel:', error.message));
  const pending = new Map<string, (outcome: Outcome) => void>();
  // Direct reply-to: the replies come back on this channel, with no queue of their own.
  await channel.consume(
    REPLY_TO,
    (message) => {
      const id = message?.properties.correlationId as string | undefined;
      if (message === null || id === undefined) return;
      // A reply to a call already given up is dropped.
      pending.get(id)?.(JSON.parse(message.content.toString()) as Outcome);
    },
    { noAck: true },
  );
  for (const service of SERVICES) {
    await channel.assertQueue(commandQueue(options.namespace, service), { durable: false });
  }

  const send = (service: ServiceName, op: Operation, payload: unknown): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = randomUUID();
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new CommandTimeoutError(`${service} ${op}: no reply within ${options.timeoutMs} ms`));
      }, options.timeoutMs);
      pending.set(id, (outcome) => {
        pending.delete(id);
        clearTimeout(timer);
        if (outcome.ok) resolve(outcome.result);
        else reject(errorOf(service, outcome));
      });
      channel.sendToQueue(
        commandQueue(options.namespace, service),
        Buffer.from(JSON.stringify({ op, payload } satisfies Command)),
        {
          correlationId: id,
          replyTo: REPLY_TO,
          contentType: 'application/json',
          expiration: String(options.timeoutMs),
        },
      );
    });

  const services: DownstreamClients = {
    payments: {
      authorize: async (request) => (await send('payment', 'authorize', request)) as { paymentId: string },
      void: async (paymentId) => void (await send('payment', 'void', { paymentId })),
    },
    inventory: {
      reserve: async (request) => (await send('inventory', 'reserve', request)) as { reservationId: string },
      release: async (reservationId) => void (await send('inventory', 'release', { reservationId })),
    },
    email: {
      send: async (message) => (await send('email', 'send', message)) as { messageId: string },
    },
    analytics: { track: async (event) => void (await send('analytics', 'track', event)) },
    warehouse: {
      prepareShipment: async (request) =>
        (await send('warehouse', 'prepare', request)) as Awaited<ReturnType<Warehouse['prepareShipment']>>,
    },
  };
  return {
    services,
    async close() {
      await channel.close().catch(() => undefined);
      await connection.close().catch(() => undefined);
    },
  };
}

// The caller sees the same errors as over HTTP, so the chain's code handles them unchanged.
function errorOf(service: ServiceName, outcome: Extract<Outcome, { ok: false }>): Error {
  switch (outcome.error) {
    case 'declined':
      return new PaymentDeclinedError(outcome.message);
    case 'out-of-stock':
      return new OutOfStockError(outcome.message);
    case 'unavailable':
      return new EmailUnavailableError(outcome.message);
    case 'rejected':
      return new EmailRejectedError(outcome.message);
    case 'failed':
      return new DownstreamError(service, outcome.status);
  }
}

function outcomeOf(error: unknown): Outcome {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof PaymentDeclinedError) return { ok: false, error: 'declined', message, status: 402 };
  if (error instanceof OutOfStockError)
    return { ok: false, error: 'out-of-stock', message: error.sku, status: 409 };
  if (error instanceof EmailUnavailableError)
    return { ok: false, error: 'unavailable', message, status: 503 };
  if (error instanceof EmailRejectedError) return { ok: false, error: 'rejected', message, status: 422 };
  const status = error instanceof DownstreamError ? error.status : 0;
  return { ok: false, error: 'failed', message, status };
}

async function dispatch(services: DownstreamClients, command: Command): Promise<unknown> {
  const payload = command.payload as never;
  switch (command.op) {
    case 'authorize':
      return services.payments.authorize(payload);
    case 'void':
      return services.payments.void((payload as { paymentId: string }).paymentId);
    case 'reserve':
      return services.inventory.reserve(payload);
    case 'release':
      return services.inventory.release((payload as { reservationId: string }).reservationId);
    case 'send':
      return services.email.send(payload);
    case 'track':
      return services.analytics.track(payload);
    case 'prepare':
      return services.warehouse.prepareShipment(payload);
  }
}

/**
 * The workers' side: takes up to `prefetch` commands of each service at once, calls the service
 * through `services`, replies, and acknowledges. A failed call is replied as a failure, not
 * retried: the caller is waiting, and decides (here, as the chain does: it refuses the order).
 *
 * @example
 * ```ts
 * const workers = await serveCommands({ url, namespace: 'rpc1', prefetch: 100, services: httpClients });
 * ```
 */
export async function serveCommands(
  options: CommandQueueOptions & { readonly prefetch: number; readonly services: DownstreamClients },
): Promise<{ close(): Promise<void> }> {
  const connection = await connect(options.url);
  const channel: Channel = await connection.createChannel();
  channel.on('error', (error: Error) => console.error('command worker channel:', error.message));
  // Per consumer: each service's queue has its own `prefetch` commands in hand.
  await channel.prefetch(options.prefetch);
  const handle = async (message: ConsumeMessage): Promise<void> => {
    let outcome: Outcome;
    try {
      const command = JSON.parse(message.content.toString()) as Command;
      outcome = { ok: true, result: (await dispatch(options.services, command)) ?? null };
    } catch (error) {
      outcome = outcomeOf(error);
    }
    const { replyTo, correlationId } = message.properties;
    if (typeof replyTo === 'string') {
      channel.sendToQueue(replyTo, Buffer.from(JSON.stringify(outcome)), {
        correlationId,
        contentType: 'application/json',
      });
    }
    channel.ack(message);
  };
  for (const service of SERVICES) {
    const queue = commandQueue(options.namespace, service);
    await channel.assertQueue(queue, { durable: false });
    await channel.consume(queue, (message) => {
      if (message !== null) void handle(message);
    });
  }
  return {
    async close() {
      await channel.close().catch(() => undefined);
      await connection.close().catch(() => undefined);
    },
  };
}
