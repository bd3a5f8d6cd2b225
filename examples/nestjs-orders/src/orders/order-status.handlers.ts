import { Injectable } from '@nestjs/common';
import type { EventOf } from '@tidings/core';
import { Subscribe } from '@tidings/nestjs';
import { OrderShipped } from '../contracts';
import { OrdersService } from './orders.service';

/** Follows the order once it left the request: shipped when shipping says so. */
@Injectable()
export class OrderStatusHandlers {
  constructor(private readonly orders: OrdersService) {}

  @Subscribe(OrderShipped, { group: 'order-status' })
  onOrderShipped(event: EventOf<typeof OrderShipped>): void {
    this.orders.markShipped(event.data.orderId, event.data.carrier);
  }
}
