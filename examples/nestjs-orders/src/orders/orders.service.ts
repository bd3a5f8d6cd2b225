import { randomUUID } from 'node:crypto';
import { Injectable, NotFoundException } from '@nestjs/common';
import { TidingsBus } from '@tidings/nestjs';
import { OrderPlaced } from '../contracts';

export interface Order {
  readonly id: string;
  readonly customerEmail: string;
  readonly totalCents: number;
  status: 'placed' | 'shipped';
  carrier?: string;
}

/** The critical path: store the order, publish the fact, answer. Everything else reacts to the event. */
@Injectable()
export class OrdersService {
  // A real service keeps orders in its database, and writes the event in the same transaction
  // through the outbox (see docs/nestjs.md).
  private readonly orders = new Map<string, Order>();

  constructor(private readonly bus: TidingsBus) {}

  async place(customerEmail: string, totalCents: number): Promise<Order> {
    const order: Order = { id: randomUUID(), customerEmail, totalCents, status: 'placed' };
    // Stored first: the handlers of the event may answer before publish returns.
    this.orders.set(order.id, order);
    try {
      // Validated against the contract: bad input rejects with a ValidationError, nothing is sent.
      await this.bus.publish(OrderPlaced, { orderId: order.id, customerEmail, totalCents });
    } catch (error) {
      this.orders.delete(order.id);
      throw error;
    }
    return order;
  }

  get(id: string): Order {
    const order = this.orders.get(id);
    if (order === undefined) throw new NotFoundException(`no order ${id}`);
    return order;
  }

  markShipped(id: string, carrier: string): void {
    const order = this.orders.get(id);
    if (order === undefined) return; // placed by another instance of this service
    order.status = 'shipped';
    order.carrier = carrier;
  }
}
