// The order service under test, in a child process of its own: either the synchronous chain, or
// the order-system example itself (its HTTP API, critical path, outbox and consumers), with only
// the email and analytics consumers, calling the downstream services over HTTP.
import { createBus, type RetryOptions } from '@tidings/core';
import type { Activity } from '../src/activity';
import { createOrderSystem, type OrderSystem } from '../src/app';
import { type AppConfig, type BrokerConfig, loadConfig } from '../src/config';
import { EMAIL_GROUP } from '../src/consumers/email-confirmation';
import { createPersistence, type Persistence } from '../src/infrastructure/persistence';
import { type DownstreamUrls, httpAnalytics, httpEmail, httpInventory, httpPayments } from './http-clients';
import { serveParent } from './ipc';
import { createSyncOrderApi } from './sync-chain';

/** What the runner asks for. */
export interface SutSettings {
  readonly mode: 'sync' | 'events';
  readonly urls: DownstreamUrls;
  readonly broker: BrokerConfig;
  readonly topicPrefix: string;
  readonly database?: AppConfig['database'];
  /** Events each consumer handles at once. */
  readonly consumerConcurrency: number;
  readonly retry: RetryOptions;
}

/** Counters of the event-driven side, since the last reset. */
export interface SutStats {
  readonly placed: number;
  readonly emailsSent: number;
  readonly emailFailures: number;
  readonly emailsDeadLettered: number;
  readonly analyticsTracked: number;
}

const counts = { placed: 0, emailsSent: 0, emailFailures: 0, emailsDeadLettered: 0, analyticsTracked: 0 };
let baseline = { ...counts };
let stop: () => Promise<void> = async () => undefined;

function count(activity: Activity): void {
  if (activity.kind === 'order.placed') counts.placed++;
  else if (activity.kind === 'email.sent') counts.emailsSent++;
  else if (activity.kind === 'email.failed') counts.emailFailures++;
  else if (activity.kind === 'dead-letter' && activity.group.endsWith(EMAIL_GROUP))
    counts.emailsDeadLettered++;
  else if (activity.kind === 'analytics.tracked') counts.analyticsTracked++;
}

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
  const downstream = {
    payments: httpPayments(settings.urls.payment),
    inventory: httpInventory(settings.urls.inventory),
    email: httpEmail(settings.urls.email),
    analytics: httpAnalytics(settings.urls.analytics),
  };

  if (settings.mode === 'events') {
    const system: OrderSystem = await createOrderSystem({
      config,
      downstream,
      consumers: ['email', 'analytics', 'dead-letters'],
      activity: count,
    });
    stop = () => system.stop();
    return system.start();
  }

  // The chain publishes nothing; it shares the order store (and so the database) with the other side.
  const persistence: Persistence = await createPersistence(
    config,
    createBus({ source: 'sync-chain' }),
    count,
  );
  await persistence.migrate();
  const api = createSyncOrderApi({ ...downstream, orders: persistence.orders });
  stop = async () => {
    await api.close();
    await persistence.stopRelay();
    await persistence.close();
  };
  return api.listen({ host: '127.0.0.1', port: 0 });
}

serveParent(
  {
    start: (settings: SutSettings) => start(settings),
    stats: async () => {
      const delta = {} as Record<keyof typeof counts, number>;
      for (const key of Object.keys(counts) as (keyof typeof counts)[])
        delta[key] = counts[key] - baseline[key];
      return delta satisfies SutStats;
    },
    reset: async () => {
      baseline = { ...counts };
    },
  },
  () => stop(),
);
