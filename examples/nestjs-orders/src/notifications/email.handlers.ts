import { Injectable, Logger } from '@nestjs/common';
import type { EventOf, MessageContext } from '@tidings/core';
import { Subscribe } from '@tidings/nestjs';
import { OrderPlaced } from '../contracts';
import { MailerService } from './mailer.service';

@Injectable()
export class EmailHandlers {
  private readonly logger = new Logger(EmailHandlers.name);

  constructor(private readonly mailer: MailerService) {}

  // A flaky provider: retried with backoff, then dead-lettered, without holding up other orders.
  @Subscribe(OrderPlaced, {
    group: 'email',
    retry: { maxAttempts: 5, initialDelayMs: 200 },
    timeoutMs: 10_000,
  })
  async onOrderPlaced(event: EventOf<typeof OrderPlaced>, ctx: MessageContext): Promise<void> {
    await this.mailer.sendConfirmation(event.data.customerEmail, event.data.orderId, ctx.signal);
    this.logger.log(
      `confirmed ${event.data.orderId} to ${event.data.customerEmail} (attempt ${ctx.attempt})`,
    );
  }
}
