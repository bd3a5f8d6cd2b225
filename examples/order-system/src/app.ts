// The composition root: the one place that knows every part and wires them from the
// configuration. main.ts runs it; the tests and the experiment build it with their own settings.
// Nothing here is global, so a test can run several systems side by side.
import {
  type AnyEventContract,
  type BrokerAdapter,
  type Bus,
  createBus,
  type Middleware,
} from '@tidings/core';
import type { FastifyInstance } from 'fastify';
import { type ActivityLog, quiet } from './activity';
import { createHttpApi, type HealthReport } from './api/http-api';
import type { AppConfig } from './config';
import { ANALYTICS_GROUP, subscribeAnalytics } from './consumers/analytics';
import { subscribeDeadLetterMonitor } from './consumers/dead-letters';
import { EMAIL_GROUP, subscribeEmailConfirmation } from './consumers/email-confirmation';
import { FULFILMENT_GROUP, subscribeFulfilment } from './consumers/fulfilment';
import { type ConsumerDeps, groupName } from './consumers/policy';
import { OrderPlaced, ShipmentPrepared } from './contracts';
import { createBrokerAdapter } from './infrastructure/broker';
import { createPersistence, type Persistence } from './infrastructure/persistence';
import { placeOrder } from './orders/place-order';
import { ORDER_STATUS_GROUP, subscribeShipmentTracking } from './orders/track-shipments';
import { type AnalyticsSink, createSimulatedAnalyticsSink } from './services/analytics-sink';
import { createSimulatedEmailProvider, type EmailProvider } from './services/email-provider';
import { createSimulatedInventoryService, type InventoryService } from './services/inventory';
import { createSimulatedPaymentService, type PaymentService } from './services/payment';
import { createSimulatedWarehouse, type Warehouse } from './services/warehouse';

/** The downstream services the order system talks to. Simulated unless given. */
export interface Downstream {
  readonly payments: PaymentService;
  readonly inventory: InventoryService;
  readonly email: EmailProvider;
  readonly analytics: AnalyticsSink;
  readonly warehouse: Warehouse;
}

/** Settings of {@link createOrderSystem}. */
export interface OrderSystemOptions {
  readonly config: AppConfig;
  /** Real (or differently simulated) services in place of the simulated ones. */
  readonly downstream?: Partial<Downstream>;
  /** Where the services report what they do. Default: nowhere. */
  readonly activity?: ActivityLog;
  /** Wraps the broker adapter; tests use it to inject duplicates and redeliveries. */
  readonly decorateAdapter?: (adapter: BrokerAdapter) => BrokerAdapter;
  /**
   * The consumers this process runs. Default: all of them. Run a subset to deploy consumers
   * apart from the API, or (as the sync-vs-events experiment does) to leave some out.
   */
  readonly consumers?: readonly ConsumerName[];
}

/** The consumers of the order system. */
export type ConsumerName = 'email' | 'analytics' | 'fulfilment' | 'shipments' | 'dead-letters';

const ALL_CONSUMERS: readonly ConsumerName[] = [
  'email',
  'analytics',
  'fulfilment',
  'shipments',
  'dead-letters',
];

/** The topic of a contract: its own name under the configured prefix. */
export function topicNamer(config: AppConfig): (contract: AnyEventContract) => string {
  return (contract) => `${config.topicPrefix}${contract.topic ?? contract.type}`;
}

/** The consumer groups of the order system (full names) and the contracts each consumes. */
export function consumerGroups(config: AppConfig): {
  readonly consumer: ConsumerName;
  readonly group: string;
  readonly contracts: readonly AnyEventContract[];
}[] {
  return [
    { consumer: 'email', group: groupName(config.consumers, EMAIL_GROUP), contracts: [OrderPlaced] },
    {
      consumer: 'analytics',
      group: groupName(config.consumers, ANALYTICS_GROUP),
      contracts: [OrderPlaced, ShipmentPrepared],
    },
    {
      consumer: 'fulfilment',
      group: groupName(config.consumers, FULFILMENT_GROUP),
      contracts: [OrderPlaced],
    },
    {
      consumer: 'shipments',
      group: groupName(config.consumers, ORDER_STATUS_GROUP),
      contracts: [ShipmentPrepared],
    },
  ];
}

/** A wired order system: the HTTP API, the bus with every consumer, and the storage. */
export interface OrderSystem {
  readonly http: FastifyInstance;
  readonly bus: Bus;
  readonly downstream: Downstream;
  readonly persistence: Persistence;
  /** Starts storage, bus and relay, then listens; resolves with the API's base URL. */
  start(): Promise<string>;
  /**
   * Starts storage and the bus only: for a process that runs consumers apart from the API, with
   * no HTTP and no relay (the API's process hands the outbox to the broker). Use it instead of
   * `start`.
   */
  startConsumers(): Promise<void>;
  /** Stops in the order that loses nothing: HTTP, relay, consumers, connections. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Wires the order system from its configuration.
 *
 * @example
 * ```ts
 * const system = await createOrderSystem({ config: loadConfig(), activity: (a) => console.log(a) });
 * const url = await system.start();
 * process.once('SIGTERM', () => void system.stop());
 * ```
 */
export async function createOrderSystem(options: OrderSystemOptions): Promise<OrderSystem> {
  const { config } = options;
  const activity = options.activity ?? quiet;
  const downstream = { ...simulatedDownstream(config), ...options.downstream };

  const adapter = await createBrokerAdapter(config.broker);
  const bus = createBus({
    source: 'order-system',
    adapter: options.decorateAdapter?.(adapter) ?? adapter,
    topic: topicNamer(config),
    middleware: [reportDuplicates(activity)],
  });
  const persistence = await createPersistence(config, bus, activity);

  // The consumers. Each is its own consumer group, so each gets every event and fails alone;
  // in production each could be its own deployment, subscribing the same way.
  const consumerDeps: ConsumerDeps = {
    idempotency: persistence.idempotency,
    policy: config.consumers,
    activity,
  };
  const runs = new Set(options.consumers ?? ALL_CONSUMERS);
  if (runs.has('email')) subscribeEmailConfirmation(bus, { ...consumerDeps, email: downstream.email });
  if (runs.has('analytics')) subscribeAnalytics(bus, { ...consumerDeps, analytics: downstream.analytics });
  if (runs.has('fulfilment')) subscribeFulfilment(bus, { ...consumerDeps, warehouse: downstream.warehouse });
  if (runs.has('shipments')) {
    subscribeShipmentTracking(bus, { orders: persistence.orders, activity, policy: config.consumers });
  }
  if (runs.has('dead-letters')) {
    subscribeDeadLetterMonitor(
      bus,
      consumerGroups(config).filter((group) => runs.has(group.consumer)),
      activity,
    );
  }

  const http = createHttpApi(
    {
      placeOrder: (request, signal) =>
        placeOrder(
          {
            payments: downstream.payments,
            inventory: downstream.inventory,
            orders: persistence.orders,
            activity,
          },
          request,
          signal,
        ),
      findOrder: (orderId) => persistence.orders.find(orderId),
      health: async (): Promise<HealthReport> => {
        const busHealth = bus.health();
        const storage = await persistence.health();
        // The outbox takes orders while the broker is away, so a broker outage degrades this
        // instance rather than taking it out of rotation; the storage being down does.
        const broker = busHealth.status === 'down' ? 'degraded' : busHealth.status;
        return {
          status: worst(broker, storage.status),
          broker: busHealth.adapter,
          storage,
          consumers: busHealth.subscriptions,
        };
      },
    },
    { logger: config.http.logger },
  );

  let stopping: Promise<void> | undefined;
  return {
    http,
    bus,
    downstream,
    persistence,
    async start() {
      // Tables first (consumers may find events waiting), then the broker, then the relay (which
      // publishes through the adapter the bus connected), and only then traffic.
      await persistence.migrate();
      await bus.start();
      await persistence.startRelay();
      return http.listen({ host: config.http.host, port: config.http.port });
    },
    async startConsumers() {
      await persistence.migrate();
      await bus.start();
    },
    stop() {
      stopping ??= (async () => {
        // No new orders; requests in flight finish first.
        await http.close();
        // Hand what the outbox holds to the broker, then let the consumers finish what they hold.
        await persistence.stopRelay();
        await bus.stop();
        await persistence.close();
      })();
      return stopping;
    },
  };
}

function simulatedDownstream(config: AppConfig): Downstream {
  const s = config.simulation;
  return {
    payments: createSimulatedPaymentService({ latencyMs: s.paymentMs }),
    inventory: createSimulatedInventoryService({ latencyMs: s.inventoryMs, stock: { 'sold-out-mug': 0 } }),
    email: createSimulatedEmailProvider({
      latencyMs: s.emailMs,
      jitterMs: s.emailJitterMs,
      failureRate: s.emailFailureRate,
    }),
    analytics: createSimulatedAnalyticsSink({ latencyMs: s.analyticsMs }),
    warehouse: createSimulatedWarehouse({ latencyMs: s.warehouseMs }),
  };
}

const SEVERITY = { up: 0, degraded: 1, down: 2 } as const;
function worst(a: HealthReport['status'], b: HealthReport['status']): HealthReport['status'] {
  return SEVERITY[a] >= SEVERITY[b] ? a : b;
}

// Reports each delivery the idempotency policy skipped: outer middleware sees the final verdict.
function reportDuplicates(activity: ActivityLog): Middleware {
  return async (ctx, next) => {
    await next();
    if (ctx.duplicate) {
      activity({
        kind: 'duplicate.skipped',
        group: ctx.group,
        orderId: ctx.event?.subject ?? ctx.event?.key ?? ctx.record.position,
      });
    }
  };
}
