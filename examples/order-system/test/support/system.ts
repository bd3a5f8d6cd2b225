// Builds an order system for a test: fast simulated services, a deterministic flaky email
// provider, short retry delays, and an activity recorder to wait on.

import type { BrokerAdapter } from '@tidings/core';
import { type ActivityRecorder, createActivityRecorder } from '../../src/activity';
import { createOrderSystem, type OrderSystem } from '../../src/app';
import { type AppConfig, type BrokerConfig, loadConfig } from '../../src/config';
import { createSimulatedAnalyticsSink } from '../../src/services/analytics-sink';
import { createSimulatedEmailProvider } from '../../src/services/email-provider';

/** A running system and what a test reads from it. */
export interface TestSystem {
  readonly system: OrderSystem;
  readonly url: string;
  readonly recorder: ActivityRecorder;
  readonly email: ReturnType<typeof createSimulatedEmailProvider>;
  readonly analytics: ReturnType<typeof createSimulatedAnalyticsSink>;
}

/** Settings of {@link startTestSystem}. */
export interface TestSystemOptions {
  readonly broker: BrokerConfig;
  readonly database?: AppConfig['database'];
  readonly topicPrefix: string;
  readonly decorateAdapter?: (adapter: BrokerAdapter) => BrokerAdapter;
  /** While `down`, the email provider fails every call, as a provider in an outage does. */
  readonly emailOutage?: { readonly down: boolean };
}

/**
 * Starts a system on a free port. The email provider fails the first attempt of every third
 * message, so that retries are exercised on every run without a random flake, and every attempt
 * for addresses at `unreachable.example`, so that retries run out.
 */
export async function startTestSystem(options: TestSystemOptions): Promise<TestSystem> {
  const base = loadConfig({ PORT: '0', DEMO_ORDERS: '0' });
  const config: AppConfig = {
    ...base,
    broker: options.broker,
    ...(options.database === undefined ? {} : { database: options.database }),
    topicPrefix: options.topicPrefix,
    // The simulated latencies are beside the point here: keep the run short.
    simulation: { ...base.simulation, paymentMs: 5, inventoryMs: 5, warehouseMs: 5 },
    // Retries come back in tens of milliseconds; eight attempts absorb any one failure.
    consumers: {
      retry: { maxAttempts: 8, initialDelayMs: 20, maxDelayMs: 500 },
      concurrency: 16,
      // Consumer groups are global on Kafka: each run has its own.
      groupPrefix: options.topicPrefix,
    },
  };
  const attemptsByMessage = new Map<string, number>();
  let messages = 0;
  const email = createSimulatedEmailProvider({
    latencyMs: 10,
    fails: (message) => {
      if (options.emailOutage?.down === true) return true;
      // An address whose mail server never answers: every attempt fails, until the dead letter.
      if (message.to.endsWith('@unreachable.example')) return true;
      const attempt = (attemptsByMessage.get(message.idempotencyKey) ?? 0) + 1;
      if (attempt === 1) messages++;
      attemptsByMessage.set(message.idempotencyKey, attempt);
      return attempt === 1 && messages % 3 === 0;
    },
  });
  const analytics = createSimulatedAnalyticsSink({ latencyMs: 5 });
  const recorder = createActivityRecorder();
  const system = await createOrderSystem({
    config,
    activity: recorder.log,
    downstream: { email, analytics },
    ...(options.decorateAdapter === undefined ? {} : { decorateAdapter: options.decorateAdapter }),
  });
  const url = await system.start();
  return { system, url, recorder, email, analytics };
}
