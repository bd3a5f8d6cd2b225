// What a run of the experiment measures and keeps in results.json, from which the report is
// rendered. Every figure of the report comes from here.

import type { SocketCount } from './meter';
import type { ServiceName, ServiceSettings, ServiceStats } from './services';
import type { Design } from './system-under-test';

/** The three situations of the latency experiment. */
export const SCENARIOS = [
  { id: 'normal', title: 'email 400 ms' },
  { id: 'slow', title: 'email slowed to 3 s' },
  { id: 'down', title: 'email down (503 at once)', note: "the chain's answers are all errors (502)" },
] as const;
export type ScenarioId = (typeof SCENARIOS)[number]['id'];

/** How each design is called in the report. */
export const DESIGN_TITLES: Readonly<Record<Design, string>> = {
  sync: 'sync chain',
  rpc: 'command queue',
  events: 'Tidings',
};

/** The designs in the order the report shows them: the chain, the middle ground, events. */
export const DESIGNS: readonly Design[] = ['sync', 'rpc', 'events'];

/** One measurement of the latency experiment: one system, one situation, one number of users. */
export interface RunRecord {
  readonly scenario: ScenarioId;
  readonly system: 'sync' | 'events';
  readonly users: number;
  readonly requests: number;
  readonly ok: number;
  readonly errors: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Successful orders per second. */
  readonly okPerSecond: number;
  /** Emails the email service accepted during the window (both systems). */
  readonly emailsSent: number;
  /** Event-driven only: orders whose email was neither sent nor dead-lettered when the window ended. */
  readonly emailBacklogAtEnd?: number;
  /**
   * Event-driven only: time from the end of the window until every email was sent or
   * dead-lettered; estimated from the pace when the wait was cut short (`drainMeasured` false).
   */
  readonly drainMs?: number;
  readonly drainMeasured?: boolean;
  /** Event-driven only: confirmations dead-lettered by the end of the drain. */
  readonly emailsDeadLettered?: number;
  readonly emailFailures?: number;
}

/** One measurement of the capacity experiment: one design, one number of users. */
export interface CapacityRecord {
  readonly design: Design;
  readonly users: number;
  readonly requests: number;
  readonly ok: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly okPerSecond: number;
  /** The queue in front of each service and the share of its capacity in use, over the window. */
  readonly services: Readonly<Record<ServiceName, ServiceStats>>;
  /** Events only: orders whose email was not sent yet when the window ended. */
  readonly emailBacklogAtEnd?: number;
  readonly drainMs?: number;
  readonly drainMeasured?: boolean;
}

/** CPU seconds used during one measurement, by process. */
export interface CpuSeconds {
  readonly orderService: number;
  /** The consumers (events) or the workers (command queue); absent for the chain. */
  readonly helper?: number;
  readonly downstream: number;
  /** Shared services, where visible; they may include other work on the machine. */
  readonly rabbitmq?: number;
  readonly postgres?: number;
}

/** One measurement of the compute experiment: one design at one offered rate. */
export interface ComputeRecord {
  readonly design: Design;
  readonly ratePerSecond: number;
  readonly offered: number;
  readonly ok: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** From the start of the window until the last order's background work was done. */
  readonly spanMs: number;
  readonly cpu: CpuSeconds;
  /** TCP connections at the peak of the design's own processes (order service + helper). */
  readonly sockets: SocketCount;
  /** Resident memory of the design's own processes, at most. */
  readonly rssMiB: number;
}

/** One measurement of the five-service experiment: one design, healthy or under the fault schedule. */
export interface FaultRecord {
  readonly design: Design;
  readonly schedule: 'healthy' | 'faults';
  readonly ratePerSecond: number;
  readonly offered: number;
  readonly ok: number;
  readonly errors: number;
  readonly late: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Customer requests whose order met at least one injected fault, at any step. */
  readonly faulted: number;
  /** Of those, the ones whose customer got an error or no answer by the deadline. */
  readonly faultedFailed: number;
  /** Customer requests that failed with no injected fault on their order (load, or noise). */
  readonly unfaultedFailed: number;
  /** What the services saw: calls, and how many the schedule failed or stalled. */
  readonly services: Readonly<Record<ServiceName, Pick<ServiceStats, 'calls' | 'failed' | 'stalled'>>>;
  /** Events only: the background work of the orders taken, once drained (or when the wait ended). */
  readonly background?: {
    readonly placed: number;
    readonly done: number;
    readonly deadLettered: number;
    readonly drained: boolean;
  };
}

/** The settings of a run, kept so that the report describes what was run. */
export interface ExperimentSettings {
  /** Latency of each service in the latency experiment (email normal). */
  readonly latencyMs: Readonly<Record<ServiceName, number>>;
  readonly capacity: {
    readonly services: Readonly<Record<ServiceName, ServiceSettings>>;
    readonly users: readonly number[];
  };
  readonly compute: { readonly ratesPerSecond: readonly number[] };
  readonly faults: {
    readonly services: Readonly<Record<ServiceName, ServiceSettings>>;
    readonly ratePerSecond: number;
    readonly deadlineMs: number;
    readonly faultsDurationMs: number;
    readonly healthyDurationMs: number;
  };
  /** Commands each worker takes at once per service (as many as a consumer's events). */
  readonly prefetch: number;
}

/** Where and how the experiment ran. */
export interface Environment {
  readonly broker: string;
  readonly store: string;
  readonly node: string;
  readonly cpus: number;
  readonly cpuModel: string;
  readonly loadBefore: number;
  readonly loadAfter: number;
  readonly durationMs: number;
  readonly quick: boolean;
  readonly date: string;
  readonly consumerConcurrency: number;
  readonly retry: {
    readonly maxAttempts: number;
    readonly initialDelayMs: number;
    readonly maxDelayMs: number;
  };
  /** Consumers in a process of their own (a real broker) or in the order service's (memory). */
  readonly consumersApart?: boolean;
  readonly experiments?: ExperimentSettings;
  readonly totalMs?: number;
}

/** Everything a run keeps. */
export interface Results {
  readonly environment: Environment;
  readonly records: readonly RunRecord[];
  readonly capacity?: readonly CapacityRecord[];
  readonly compute?: readonly ComputeRecord[];
  readonly faults?: readonly FaultRecord[];
}
