import { Injectable, Logger } from '@nestjs/common';
import type { EventOf, MessageContext } from '@tidings/core';
import { Subscribe } from '@tidings/nestjs';
import { OrderPlaced, OrderShipped } from '../contracts';

/** Ships every order, and says so with an event of its own. */
@Injectable()
export class ShippingHandlers {
  private readonly logger = new Logger(ShippingHandlers.name);

  @Subscribe(OrderPlaced, { group: 'shipping' })
  async onOrderPlaced(event: EventOf<typeof OrderPlaced>, ctx: MessageContext): Promise<void> {
    const carrier = event.data.totalCents >= 10_000 ? 'ups' : 'dhl';
    // ctx.publish links the follow-up to this event (causation and correlation ids).
    await ctx.publish(OrderShipped, { orderId: event.data.orderId, carrier });
    this.logger.log(`shipped ${event.data.orderId} with ${carrier}`);
  }
}
