/**
 * Records on the wire, following the CloudEvents AMQP binding in binary content mode: the body is
 * the message body, `content-type` is the AMQP `content-type` property, every other header (the
 * `cloudEvents:`-prefixed attributes included) is an application header. The adapter adds a few
 * headers of its own, which it removes again on the way in.
 *
 * @module
 */
import { CONTENT_TYPE_HEADER, type IncomingRecord, RETRY_HEADERS } from '@tidings/core/adapter';
import type { Message, Options } from 'amqplib';
import { DELAY_HEADER_PREFIX } from './delay';
import { MAX_NAME_BYTES } from './names';

/** The record's key (absent when the record has none). */
export const KEY_HEADER = 'tidings-key';
/** The record's topic, on retried copies, whose routing key is their queue's name. */
export const TOPIC_HEADER = 'tidings-topic';
/** The CloudEvents id attribute, reused as the AMQP `message-id`. */
export const CLOUD_EVENTS_ID_HEADER = 'cloudEvents:id';

/** Headers RabbitMQ sets itself (delivery count, dead-lettering history, shovels). */
const BROKER_HEADERS = new Set(['x-delivery-count', 'x-death', 'x-received-from']);
const BROKER_HEADER_PREFIXES = ['x-first-death-', 'x-last-death-'];

/** Whether a header is the adapter's or the broker's rather than the record's. */
export function isTransportHeader(name: string): boolean {
  return (
    name === KEY_HEADER ||
    name === TOPIC_HEADER ||
    name.startsWith(DELAY_HEADER_PREFIX) ||
    BROKER_HEADERS.has(name) ||
    BROKER_HEADER_PREFIXES.some((prefix) => name.startsWith(prefix))
  );
}

/** What the publisher sends for one record. */
export interface Publication {
  readonly exchange: string;
  readonly routingKey: string;
  readonly content: Buffer;
  readonly options: Options.Publish & { readonly messageId: string };
  /** The record's topic, for error messages. */
  readonly topic: string;
}

/** A record to put on the wire: what an outgoing record and a redelivered copy have in common. */
export interface WireRecord {
  readonly key: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/**
 * The AMQP message for a record. `messageId` is kept when the record already has one (its
 * CloudEvents id or the id it arrived with); `extra` headers go over the record's own.
 */
export function publicationOf(
  record: WireRecord,
  target: { readonly exchange: string; readonly routingKey: string; readonly topic: string },
  messageId: string,
  mandatory: boolean,
  extra?: Readonly<Record<string, string>>,
): Publication {
  const headers: Record<string, string> = {};
  let contentType: string | undefined;
  for (const name in record.headers) {
    const value = record.headers[name]!;
    // A content type that fits the property travels there, as the binding says; a longer one stays a header.
    if (name === CONTENT_TYPE_HEADER && Buffer.byteLength(value) <= MAX_NAME_BYTES) contentType = value;
    else headers[name] = value;
  }
  if (record.key !== undefined) headers[KEY_HEADER] = record.key;
  if (extra !== undefined) Object.assign(headers, extra);
  const body = record.body;
  return {
    exchange: target.exchange,
    routingKey: target.routingKey,
    topic: target.topic,
    // Share the record's memory: the bytes are written before the publish confirm arrives.
    content: Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
    options: {
      persistent: true,
      mandatory,
      messageId,
      headers,
      ...(contentType === undefined ? {} : { contentType }),
    },
  };
}

/** The message id a record's publication carries: its CloudEvents id when it has one that fits. */
export function messageIdOf(record: WireRecord, fallback: () => string): string {
  const id = record.headers[CLOUD_EVENTS_ID_HEADER];
  return id !== undefined && id.length > 0 && Buffer.byteLength(id) <= MAX_NAME_BYTES ? id : fallback();
}

/**
 * The record a delivered message carries. `attempt` adds the broker's count of earlier deliveries
 * of this copy (`x-delivery-count` on quorum queues; the `redelivered` flag, a lower bound, on
 * classic ones) to the attempt the copy was published as (`tidings-attempt`, 1 for an original).
 */
export function incomingRecordOf(message: Message, queue: string): IncomingRecord {
  const raw = message.properties.headers ?? {};
  const headers: Record<string, string> = {};
  for (const name in raw) {
    if (isTransportHeader(name)) continue;
    const text = headerText(raw[name]);
    if (text !== undefined) headers[name] = text;
  }
  const contentType: unknown = message.properties.contentType;
  if (typeof contentType === 'string' && headers[CONTENT_TYPE_HEADER] === undefined) {
    headers[CONTENT_TYPE_HEADER] = contentType;
  }
  const topic = headerText(raw[TOPIC_HEADER]) ?? message.fields.routingKey;
  const key = headerText(raw[KEY_HEADER]);
  const deliveryCount = raw['x-delivery-count'];
  const earlier =
    typeof deliveryCount === 'number' && Number.isInteger(deliveryCount) && deliveryCount >= 0
      ? deliveryCount
      : message.fields.redelivered
        ? 1
        : 0;
  const messageId: unknown = message.properties.messageId;
  return {
    topic,
    key,
    headers,
    body: message.content,
    attempt: publishedAttempt(headers[RETRY_HEADERS.attempt]) + earlier,
    position:
      typeof messageId === 'string' && messageId.length > 0
        ? `${queue}#${messageId}`
        : `${queue}#delivery-${message.fields.deliveryTag}`,
  };
}

function publishedAttempt(header: string | undefined): number {
  if (header === undefined) return 1;
  const attempt = Number(header);
  return Number.isSafeInteger(attempt) && attempt >= 1 ? attempt : 1;
}

/**
 * A header value as text. Messages published by other tools may carry numbers, booleans or byte
 * strings; tables, arrays and nulls have no string form and are left out rather than failing.
 */
function headerText(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'bigint':
    case 'boolean':
      return String(value);
    default:
      return Buffer.isBuffer(value) ? value.toString('utf8') : undefined;
  }
}
