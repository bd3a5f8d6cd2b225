import { Module } from '@nestjs/common';
import { OrderStatusHandlers } from './order-status.handlers';
import { OrdersController } from './orders.controller';
import { OrdersService } from './orders.service';

@Module({
  controllers: [OrdersController],
  providers: [OrdersService, OrderStatusHandlers],
})
export class OrdersModule {}
