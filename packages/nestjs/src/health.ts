// A health indicator for @nestjs/terminus, from bus.health(). It returns terminus's result shape
// and imports nothing of terminus, so it works with every terminus version that reads a 'down'
// result as a failure (11 and later) and costs nothing to applications without terminus.
import { Inject, Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { Bus, BusHealth } from '@tidings/core';
import { DEFAULT_BUS_NAME, getBusToken } from './tokens';

/**
 * Settings of {@link TidingsHealthIndicator.isHealthy}.
 *
 * @example
 * ```ts
 * import type { TidingsHealthOptions } from '@tidings/nestjs';
 *
 * const options: TidingsHealthOptions = { bus: 'audit', degraded: 'up' };
 * ```
 */
export interface TidingsHealthOptions {
  /** The bus to report. Default: the default bus. */
  readonly bus?: string;
  /**
   * How to report a bus that is connected but has a subscription that is not running (it failed
   * to start, or stopped): `down` (default) fails the check; `up` reports it in the details only.
   */
  readonly degraded?: 'down' | 'up';
}

/**
 * One subscription in a health result.
 *
 * @example
 * ```ts
 * import type { TidingsHealthSubscription } from '@tidings/nestjs';
 *
 * const failing = (subscriptions: readonly TidingsHealthSubscription[]) =>
 *   subscriptions.filter((subscription) => subscription.lastError !== undefined);
 * ```
 */
export type TidingsHealthSubscription = {
  readonly group: string;
  readonly topics: readonly string[];
  readonly state: string;
  readonly inFlight: number;
  readonly lastError?: string;
};

/**
 * What {@link TidingsHealthIndicator.isHealthy} returns: terminus's `HealthIndicatorResult` shape,
 * `{ [key]: { status, ... } }`, with the bus's state.
 *
 * @example
 * ```ts
 * import type { TidingsHealthResult } from '@tidings/nestjs';
 *
 * const isUp = (result: TidingsHealthResult<'broker'>) => result.broker.status === 'up';
 * ```
 */
export type TidingsHealthResult<TKey extends string = string> = Record<
  TKey,
  {
    readonly status: 'up' | 'down';
    /** The bus's own verdict: `up`, `degraded` or `down`. */
    readonly bus: BusHealth['status'];
    readonly adapter: string;
    readonly connection: string;
    readonly subscriptions: readonly TidingsHealthSubscription[];
  }
>;

/**
 * A `@nestjs/terminus` health indicator on `bus.health()`: `up` while the broker is connected and
 * every subscription runs. Provided and exported by `TidingsModule`.
 *
 * @example
 * ```ts
 * import { Controller, Get } from '@nestjs/common';
 * import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
 * import { TidingsHealthIndicator } from '@tidings/nestjs';
 *
 * @Controller('health')
 * export class HealthController {
 *   constructor(
 *     private readonly health: HealthCheckService,
 *     private readonly tidings: TidingsHealthIndicator,
 *   ) {}
 *
 *   @Get()
 *   @HealthCheck()
 *   check() {
 *     return this.health.check([() => this.tidings.isHealthy('broker')]);
 *   }
 * }
 * ```
 */
@Injectable()
export class TidingsHealthIndicator {
  constructor(@Inject(ModuleRef) private readonly moduleRef: ModuleRef) {}

  /** The health of a bus under `key` (default `tidings`). Never throws for a bus that is down. */
  async isHealthy<const TKey extends string = 'tidings'>(
    key: TKey = 'tidings' as TKey,
    options: TidingsHealthOptions = {},
  ): Promise<TidingsHealthResult<TKey>> {
    const name = options.bus ?? DEFAULT_BUS_NAME;
    const bus = this.moduleRef.get<Bus>(getBusToken(name), { strict: false });
    const health = bus.health();
    const up = health.status === 'up' || (health.status === 'degraded' && options.degraded === 'up');
    const subscriptions = health.subscriptions.map(
      (subscription): TidingsHealthSubscription => ({
        group: subscription.group,
        topics: subscription.topics,
        state: subscription.state,
        inFlight: subscription.inFlight,
        ...(subscription.lastError === undefined
          ? {}
          : { lastError: `${subscription.lastError.name}: ${subscription.lastError.message}` }),
      }),
    );
    const result: TidingsHealthResult[string] = {
      status: up ? 'up' : 'down',
      bus: health.status,
      adapter: health.adapter.name,
      connection: health.adapter.state,
      subscriptions,
    };
    return { [key]: result } as TidingsHealthResult<TKey>;
  }
}
