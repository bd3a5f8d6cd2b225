// The downstream services' settings and figures, and the fault draw: shared by the services'
// process (downstream.ts), the runner and the report. No side effects: importing it starts nothing.
import { createHash } from 'node:crypto';

/** The five downstream services, in the order the chain calls them. */
export const SERVICES = ['payment', 'inventory', 'email', 'analytics', 'warehouse'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** How one service behaves in a run. */
export interface ServiceSettings {
  readonly latencyMs: number;
  /** Requests handled at once; more wait in a FIFO queue in front. Default: no limit. */
  readonly capacity?: number;
  /** Share of calls answered `503` at once, before queueing. Default 0. */
  readonly failShare?: number;
  /** Share of calls held `stallMs` (in a slot of the service) before the work starts. Default 0. */
  readonly stallShare?: number;
  readonly stallMs?: number;
}

/** How the downstream services behave in one run. */
export interface DownstreamSettings {
  readonly services: Readonly<Record<ServiceName, ServiceSettings>>;
  /** Seed of the fault decisions. */
  readonly faultSeed?: string;
}

/** What one service saw since the last reset. */
export interface ServiceStats {
  /** Calls of the forward operation (authorize, reserve, send, track, prepare). */
  readonly calls: number;
  /** Calls answered 503 by the fault schedule. */
  readonly failed: number;
  /** Calls held by the fault schedule. */
  readonly stalled: number;
  /** Most requests waiting in the queue at one time (compensations included). */
  readonly peakWaiting: number;
  /** Requests waiting, averaged over time. */
  readonly meanWaiting: number;
  /** Share of the capacity in use, averaged over time (with no capacity: mean requests in service). */
  readonly utilization: number;
}

/** What the services saw, since the last reset. */
export interface DownstreamStats {
  readonly emailsSent: number;
  readonly analyticsTracked: number;
  readonly services: Readonly<Record<ServiceName, ServiceStats>>;
  /** Customers (their e-mail address) whose order met at least one injected fault, at any step. */
  readonly faultedCustomers: readonly string[];
}

/** A uniform draw in [0, 1) from a string: the same string, the same draw, in every process. */
export function draw(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0) / 2 ** 32;
}
