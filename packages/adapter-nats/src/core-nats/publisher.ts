import {
  type AdapterCapabilities,
  type DeadLetterSettlement,
  type IncomingRecord,
  type OutgoingRecord,
  PublishError,
} from '@tidings/core/adapter';
import type { NatsConnection } from 'nats';
import { type OutgoingMessage, prepareMessages } from '../codec';
import type { Link } from '../connection';
import { deadLetterMessage, JETSTREAM_MAX_HEADER_BYTES, type Reduced } from '../dead-letters';
import { publishFailure } from '../errors';
import type { ResolvedNatsCoreOptions } from '../options';
import { coreSubject } from '../subjects';

/**
 * Sends records on core NATS: each to `<prefix>.<topic>`, then a round trip to the server, which
 * is as far as "accepted" goes (core NATS has no publish ack), within `publishTimeoutMs`.
 */
export class CorePublisher {
  constructor(
    private readonly link: Link,
    private readonly options: ResolvedNatsCoreOptions,
    private readonly capabilities: AdapterCapabilities,
  ) {}

  /** Checks every record, then sends them all and waits for the server's round trip. */
  async publish(nc: NatsConnection, records: readonly OutgoingRecord[]): Promise<void> {
    const messages = prepareMessages(records, {
      capabilities: this.capabilities,
      maxPayloadBytes: nc.info?.max_payload ?? Number.MAX_SAFE_INTEGER,
      subjectOf: (record) => coreSubject(this.options.prefix, record.topic),
      redactor: this.options.redactor,
    });
    await this.send(nc, messages, 'publish');
  }

  /**
   * Publishes the dead letter of `record` and resolves with what was cut once the server has it.
   * It is fitted to the server's `max_payload` and to JetStream's 64 KiB of headers, so that a
   * stream capturing the dead-letter subject can store it too.
   */
  async publishDeadLetter(
    nc: NatsConnection,
    record: IncomingRecord,
    settlement: DeadLetterSettlement,
    minimal: boolean,
  ): Promise<Reduced> {
    const message = deadLetterMessage(record, settlement, {
      limits: {
        maxPayloadBytes: nc.info?.max_payload ?? Number.MAX_SAFE_INTEGER,
        maxHeaderBytes: JETSTREAM_MAX_HEADER_BYTES,
        addedHeaderBytes: 0,
      },
      subjectOf: (topic) => coreSubject(this.options.prefix, topic),
      minimal,
      redactor: this.options.redactor,
    });
    await this.send(nc, [message], 'dead letter');
    return message.reduced;
  }

  /**
   * Resolves once the server has seen everything sent so far (a subscription's interest, say);
   * rejects with a `PublishError` naming `topic` when it does not answer in time.
   */
  async confirm(nc: NatsConnection, topic: string, what: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeoutMs = this.options.publishTimeoutMs;
    try {
      await Promise.race([
        nc.flush(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new PublishError(
                  `${what} to topic "${topic}" was not confirmed by the server within ${timeoutMs} ms`,
                  { topic },
                ),
              ),
            timeoutMs,
          );
        }),
      ]);
    } catch (error) {
      throw error instanceof PublishError ? error : publishFailure(error, topic, what, this.options.redactor);
    } finally {
      clearTimeout(timer);
    }
  }

  private async send(nc: NatsConnection, messages: readonly OutgoingMessage[], what: string): Promise<void> {
    await this.link.whenConnected(this.options.publishTimeoutMs);
    for (const message of messages) {
      try {
        nc.publish(message.subject, message.body, { headers: message.headers });
      } catch (error) {
        throw publishFailure(error, message.topic, what, this.options.redactor);
      }
    }
    // Core NATS has no publish ack: a round trip to the server is as far as "accepted" goes.
    await this.confirm(nc, messages[0]?.topic ?? '', what);
  }
}
