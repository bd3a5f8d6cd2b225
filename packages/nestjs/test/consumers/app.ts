// A Nest application as users write it (constructor injection by type, decorator metadata),
// type-checked against the BUILT packages by tools/nest-matrix.sh under the settings Nest
// projects use: tsconfig.node10.json (`nest new` of Nest 10 and 11: commonjs, node resolution)
// and tsconfig.esm.json (Nest 12's ESM template: nodenext). It imports only root entry points.
import { Controller, Get, Injectable, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import {
  type BatchContext,
  defineEvent,
  type EventOf,
  type MessageContext,
  silentLogger,
} from '@tidings/core';
import {
  InjectBus,
  Subscribe,
  SubscribeBatch,
  TidingsBus,
  TidingsHealthIndicator,
  TidingsModule,
  type TidingsModuleOptions,
} from '@tidings/nestjs';
import { z } from 'zod';

export const OrderPlaced = defineEvent({
  type: 'order.placed',
  schema: z.object({ orderId: z.string(), totalCents: z.number().int() }),
  key: (order) => order.orderId,
});

@Injectable()
export class Orders {
  constructor(
    private readonly bus: TidingsBus,
    @InjectBus('audit') private readonly audit: TidingsBus,
  ) {}

  async place(orderId: string): Promise<string> {
    const { id } = await this.bus.publish(OrderPlaced, { orderId, totalCents: 100 });
    await this.audit.publish(OrderPlaced, { orderId, totalCents: 100 }, { causationId: id });
    return id;
  }
}

@Injectable()
export class Emails {
  readonly sent: string[] = [];

  @Subscribe(OrderPlaced, { group: 'email', retry: { maxAttempts: 3 } })
  async onOrderPlaced(event: EventOf<typeof OrderPlaced>, ctx: MessageContext): Promise<void> {
    if (!ctx.signal.aborted) this.sent.push(event.data.orderId);
  }
}

@Injectable()
export class SearchIndex {
  readonly indexed: string[] = [];

  @SubscribeBatch(OrderPlaced, { group: 'search', batch: { maxSize: 200 }, bus: 'audit' })
  index(
    events: readonly EventOf<typeof OrderPlaced>[],
    batch: BatchContext<EventOf<typeof OrderPlaced>>,
  ): void {
    for (const event of events) {
      if (batch.signal.aborted) batch.fail(event, batch.signal.reason);
      else this.indexed.push(event.data.orderId);
    }
  }
}

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly tidings: TidingsHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.tidings.isHealthy('broker', { degraded: 'up' })]);
  }
}

@Module({
  imports: [
    ConfigModule.forRoot({ ignoreEnvFile: true }),
    TidingsModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService): TidingsModuleOptions => ({
        source: config.get<string>('SERVICE_NAME', 'orders'),
        logger: silentLogger,
      }),
    }),
    TidingsModule.forRoot({ name: 'audit', source: 'orders/audit' }),
    TerminusModule,
  ],
  controllers: [HealthController],
  providers: [Orders, Emails, SearchIndex],
})
export class AppModule {}
