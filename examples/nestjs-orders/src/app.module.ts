import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { TidingsModule } from '@tidings/nestjs';
import { createAdapter } from './broker';
import { HealthModule } from './health/health.module';
import { NotificationsModule } from './notifications/notifications.module';
import { OrdersModule } from './orders/orders.module';
import { ShippingModule } from './shipping/shipping.module';

@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true }),
    // One bus for the whole application, configured from the environment.
    TidingsModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService) => ({
        source: config.get<string>('SERVICE_NAME', 'order-service'),
        adapter: () => createAdapter(config),
        // Running handlers get this long to finish when the application stops.
        drainTimeoutMs: config.get<number>('DRAIN_TIMEOUT_MS', 10_000),
      }),
    }),
    OrdersModule,
    ShippingModule,
    NotificationsModule,
    HealthModule,
  ],
})
export class AppModule {}
