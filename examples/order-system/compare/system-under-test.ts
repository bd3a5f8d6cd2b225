// One process of a design under test. Each design is deployed as it would be, one role per
// process:
// - sync: the order service (the chain, sync-chain.ts);
// - events: the order service of the example (HTTP API, critical path, outbox and relay) and, in a
//   process of their own, its consumers (email, analytics, fulfilment with five services, and the
//   dead-letter monitor); on the in-memory broker both live in the order service's process;
// - rpc: the order service (the chain's code over command-queue clients) and the workers.
import { createBus, type RetryOptions } from '@tidings/core';
import type { Activity } from '../src/activity';
import { type ConsumerName, createOrderSystem, type OrderSystem } from '../src/app';
import { type AppConfig, type BrokerConfig, loadConfig } from '../src/config';
import { ANALYTICS_GROUP } from '../src/consumers/analytics';
import { EMAIL_GROUP } from '../src/consumers/email-confirmation';
import { FULFILMENT_GROUP } from '../src/consumers/fulfilment';
import { createPersistence, type Persistence } from '../src/infrastructure/persistence';
import { createCommandClient, type DownstreamClients, serveCommands } from './command-queue';
import {
  type DownstreamUrls,
  httpAnalytics,
  httpEmail,
  httpInventory,
  httpPayments,
  httpWarehouse,
} from './http-clients';
import { serveParent } from './ipc';
import { createSyncOrderApi } from './sync-chain';

/** The three designs the experiment compares. */
export type Design = 'sync' | 'events' | 'rpc';

/** What a process of a design does. */
export type Role = 'api' | 'consumers' | 'workers';

/** What the runner asks for. */
export interface SutSettings {
  readonly design: Design;
  readonly role: Role;
  /** Events only: the order service's process runs the consumers too (the in-memory broker). */
  readonly together?: boolean;
  readonly urls: DownstreamUrls;
  /** The workflow has the warehouse as a fifth service. */
  readonly fiveServices: boolean;
  readonly broker: BrokerConfig;
  /** Where the command queues are (rpc). */
  readonly rabbitmqUrl: string;
  readonly topicPrefix: string;
  readonly database?: AppConfig['database'];
  /** Events each consumer handles at once; commands each worker takes at once per service. */
  readonly consumerConcurrency: number;
  readonly retry: RetryOptions;
  /** How long the command-queue order service waits for a reply. */
  readonly commandTimeoutMs: number;
}

/** Counters of the event-driven side, since the last reset. */
export interface SutStats {
  readonly placed: number;
  readonly emailsSent: number;
  readonly emailFailures: number;
  readonly emailsDeadLettered: number;
  /** `order placed` events tracked (the shipments analytics also tracks are not counted). */
  readonly analyticsTracked: number;
  readonly analyticsDeadLettered: number;
  readonly shipmentsPrepared: number;
  readonly shipmentsDeadLettered: number;
}

const ZERO: SutStats = {
  placed: 0,
  emailsSent: 0,
  emailFailures: 0,
  emailsDeadLettered: 0,
  analyticsTracked: 0,
  analyticsDeadLettered: 0,
  shipmentsPrepared: 0,
  shipmentsDeadLettered: 0,
};
const counts: Record<keyof SutStats, number> = { ...ZERO };
let baseline: SutStats = { ...ZERO };
let stop: () => Promise<void> = async () => undefined;

function count(activity: Activity): void {
  if (activity.kind === 'order.placed') counts.placed++;
  else if (activity.kind === 'email.sent') counts.emailsSent++;
  else if (activity.kind === 'email.failed') counts.emailFailures++;
  else if (activity.kind === 'analytics.tracked' && activity.name === 'order placed')
    counts.analyticsTracked++;
  else if (activity.kind === 'shipment.prepared') counts.shipmentsPrepared++;
  else if (activity.kind === 'dead-letter') {
    if (activity.group.endsWith(EMAIL_GROUP)) counts.emailsDeadLettered++;
    else if (activity.group.endsWith(ANALYTICS_GROUP)) counts.analyticsDeadLettered++;
    else if (activity.group.endsWith(FULFILMENT_GROUP)) counts.shipmentsDeadLettered++;
  }
}

function httpClients(urls: DownstreamUrls): DownstreamClients {
  return {
    payments: httpPayments(urls.payment),
    inventory: httpInventory(urls.inventory),
    email: httpEmail(urls.email),
    analytics: httpAnalytics(urls.analytics),
    warehouse: httpWarehouse(urls.warehouse),
  };
}

/** Starts the role; resolves with the API's URL, or an empty string for a role without one. */
async function start(settings: SutSettings): Promise<string> {
  const base = loadConfig({ PORT: '0', DEMO_ORDERS: '0' });
  const config: AppConfig = {
    ...base,
    broker: settings.broker,
    topicPrefix: settings.topicPrefix,
    ...(settings.database === undefined ? {} : { database: settings.database }),
    consumers: {
      retry: settings.retry,
      concurrency: settings.consumerConcurrency,
      // Kafka consumer groups are global to the cluster: each measurement has its own.
      groupPrefix: settings.topicPrefix,
    },
  };
  const downstream = httpClients(settings.urls);
  const namespace = settings.broker.namespace ?? settings.topicPrefix;

  if (settings.design === 'events') {
    const consumers: ConsumerName[] = [
      'email',
      'analytics',
      ...(settings.fiveServices ? (['fulfilment'] as const) : []),
      'dead-letters',
    ];
    const runs = settings.role === 'consumers' || settings.together === true;
    const system: OrderSystem = await createOrderSystem({
      config,
      downstream,
      consumers: runs ? consumers : [],
      activity: count,
    });
    stop = () => system.stop();
    if (settings.role === 'consumers') {
      await system.startConsumers();
      return '';
    }
    return system.start();
  }

  if (settings.design === 'rpc' && settings.role === 'workers') {
    const workers = await serveCommands({
      url: settings.rabbitmqUrl,
      namespace,
      prefetch: settings.consumerConcurrency,
      services: downstream,
    });
    stop = () => workers.close();
    return '';
  }

  // The chain (over HTTP, or over the command queues) publishes nothing; it shares the order
  // store (and so the database) with the other designs.
  const persistence: Persistence = await createPersistence(
    config,
    createBus({ source: 'sync-chain' }),
    count,
  );
  await persistence.migrate();
  const client =
    settings.design === 'rpc'
      ? await createCommandClient({
          url: settings.rabbitmqUrl,
          namespace,
          timeoutMs: settings.commandTimeoutMs,
        })
      : undefined;
  const services = client?.services ?? downstream;
  const api = createSyncOrderApi({
    payments: services.payments,
    inventory: services.inventory,
    email: services.email,
    analytics: services.analytics,
    ...(settings.fiveServices ? { warehouse: services.warehouse } : {}),
    orders: persistence.orders,
  });
  stop = async () => {
    await api.close();
    await client?.close();
    await persistence.stopRelay();
    await persistence.close();
  };
  return api.listen({ host: '127.0.0.1', port: 0 });
}

serveParent(
  {
    start: (settings: SutSettings) => start(settings),
    stats: async () => {
      const delta = {} as Record<keyof SutStats, number>;
      for (const key of Object.keys(counts) as (keyof SutStats)[]) delta[key] = counts[key] - baseline[key];
      return delta satisfies SutStats;
    },
    reset: async () => {
      baseline = { ...counts };
    },
  },
  () => stop(),
);
