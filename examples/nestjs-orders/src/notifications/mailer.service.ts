import { Injectable } from '@nestjs/common';
import { NonRetryableError } from '@tidings/core';

/** Stands for an email provider: slow, and now and then failing. */
@Injectable()
export class MailerService {
  readonly sent: string[] = [];
  private readonly failures = new Map<string, number>();

  async sendConfirmation(to: string, orderId: string, signal: AbortSignal): Promise<void> {
    if (to.endsWith('@blocked.example')) {
      // Retrying cannot help: the event goes to the dead-letter topic at once.
      throw new NonRetryableError(`the provider refuses ${to}`);
    }
    if (to.startsWith('flaky') && !this.failures.has(orderId)) {
      this.failures.set(orderId, 1);
      throw new Error('the email provider timed out');
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    if (signal.aborted) throw signal.reason;
    this.sent.push(orderId);
  }
}
