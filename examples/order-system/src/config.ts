// Everything that differs between a laptop, CI and production comes from the environment, is
// checked once at startup, and fails with the name of the bad variable.
import { z } from 'zod';
import type { ConsumerPolicy } from './consumers/policy';

/** The brokers the example runs on. `memory` needs nothing installed. */
export const BROKERS = ['memory', 'nats', 'rabbitmq', 'redis', 'kafka'] as const;
export type BrokerKind = (typeof BROKERS)[number];

/** Where the broker is. Fields that do not apply to the chosen broker are ignored. */
export interface BrokerConfig {
  readonly kind: BrokerKind;
  /** Broker URL; default: the broker's usual local address. */
  readonly url?: string;
  /**
   * Namespace of everything this app creates on the broker (stream, exchange or key prefix), so
   * that several copies of the app (tests, say) share one broker without meeting.
   */
  readonly namespace?: string;
}

/** How long the simulated services take, and how often the email provider fails. */
export interface SimulationConfig {
  readonly paymentMs: number;
  readonly inventoryMs: number;
  readonly emailMs: number;
  readonly emailJitterMs: number;
  readonly emailFailureRate: number;
  readonly analyticsMs: number;
  readonly warehouseMs: number;
}

/** The whole configuration of one order-system process. */
export interface AppConfig {
  readonly http: { readonly host: string; readonly port: number; readonly logger: boolean };
  readonly broker: BrokerConfig;
  /** PostgreSQL; without it, orders and the outbox live in memory. */
  readonly database?: { readonly url: string; readonly schema: string };
  /** Prefix of every topic name, for tests that share a broker. Default none. */
  readonly topicPrefix: string;
  readonly simulation: SimulationConfig;
  readonly consumers: ConsumerPolicy;
  /** Orders `npm start` places by itself to show the flow. */
  readonly demoOrders: number;
  /**
   * The web console `npm start` serves beside the API (on `http.host`): its port, or `undefined`
   * for none; and the token that enables its actions (read-only without one).
   */
  readonly console?: { readonly port: number; readonly token?: string };
}

/** The simulated latencies of the seed material's example: payment 300 ms, inventory 200, email 400, analytics 150. */
export const DEFAULT_SIMULATION: SimulationConfig = {
  paymentMs: 300,
  inventoryMs: 200,
  emailMs: 400,
  emailJitterMs: 150,
  emailFailureRate: 0.2,
  analyticsMs: 150,
  warehouseMs: 250,
};

const number = (fallback: number, schema = z.coerce.number().nonnegative()) => schema.default(fallback);

const Env = z.object({
  PORT: number(3000, z.coerce.number().int().min(0).max(65_535)),
  HOST: z.string().min(1).default('127.0.0.1'),
  HTTP_LOG: z.enum(['0', '1', 'true', 'false']).default('0'),
  BROKER: z.enum(BROKERS).default('memory'),
  BROKER_URL: z.string().min(1).optional(),
  BROKER_NAMESPACE: z
    .string()
    .regex(/^[a-z][a-z0-9_-]*$/i)
    .optional(),
  DATABASE_URL: z.string().startsWith('postgres').optional(),
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/)
    .default('order_system'),
  TOPIC_PREFIX: z.string().default(''),
  GROUP_PREFIX: z.string().default(''),
  DEMO_ORDERS: number(3, z.coerce.number().int().min(0).max(1_000)),
  PAYMENT_MS: number(DEFAULT_SIMULATION.paymentMs),
  INVENTORY_MS: number(DEFAULT_SIMULATION.inventoryMs),
  EMAIL_MS: number(DEFAULT_SIMULATION.emailMs),
  EMAIL_FAILURE_RATE: number(DEFAULT_SIMULATION.emailFailureRate, z.coerce.number().min(0).max(1)),
  ANALYTICS_MS: number(DEFAULT_SIMULATION.analyticsMs),
  WAREHOUSE_MS: number(DEFAULT_SIMULATION.warehouseMs),
  RETRY_INITIAL_DELAY_MS: number(1_000, z.coerce.number().int().min(1)),
  CONSOLE_PORT: z.union([z.literal('off'), z.coerce.number().int().min(0).max(65_535)]).default(4180),
  CONSOLE_TOKEN: z.string().min(16).optional(),
});

/**
 * Reads the configuration from environment variables (see the README of the example for the
 * list). Throws one error naming every variable that is wrong.
 *
 * @example
 * ```ts
 * const config = loadConfig({ BROKER: 'nats', DATABASE_URL: 'postgres://127.0.0.1:5432/test' });
 * ```
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): AppConfig {
  // Empty variables count as unset, as shells and compose files often leave them.
  const set = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = Env.safeParse(set);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const e = parsed.data;
  return {
    http: { host: e.HOST, port: e.PORT, logger: e.HTTP_LOG === '1' || e.HTTP_LOG === 'true' },
    broker: {
      kind: e.BROKER,
      ...(e.BROKER_URL === undefined ? {} : { url: e.BROKER_URL }),
      ...(e.BROKER_NAMESPACE === undefined ? {} : { namespace: e.BROKER_NAMESPACE }),
    },
    ...(e.DATABASE_URL === undefined ? {} : { database: { url: e.DATABASE_URL, schema: e.DATABASE_SCHEMA } }),
    topicPrefix: e.TOPIC_PREFIX,
    simulation: {
      paymentMs: e.PAYMENT_MS,
      inventoryMs: e.INVENTORY_MS,
      emailMs: e.EMAIL_MS,
      emailJitterMs: Math.min(DEFAULT_SIMULATION.emailJitterMs, e.EMAIL_MS),
      emailFailureRate: e.EMAIL_FAILURE_RATE,
      analyticsMs: e.ANALYTICS_MS,
      warehouseMs: e.WAREHOUSE_MS,
    },
    consumers: {
      retry: { maxAttempts: 6, initialDelayMs: e.RETRY_INITIAL_DELAY_MS, maxDelayMs: 30_000 },
      groupPrefix: e.GROUP_PREFIX,
    },
    demoOrders: e.DEMO_ORDERS,
    ...(e.CONSOLE_PORT === 'off'
      ? {}
      : {
          console: {
            port: e.CONSOLE_PORT,
            ...(e.CONSOLE_TOKEN === undefined ? {} : { token: e.CONSOLE_TOKEN }),
          },
        }),
  };
}
