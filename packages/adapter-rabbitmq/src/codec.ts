/**
 * Records on the wire, following the CloudEvents AMQP binding in binary content mode: the body is
 * the message body, `content-type` is the AMQP `content-type` property, every other header (the
 * `cloudEvents:`-prefixed attributes included) is an application header. The adapter adds a few
 * headers of its own, which it removes again on the way in.
 *
 * @module
 */
import {
  attemptOf,
  CONTENT_TYPE_HEADER,
  type IncomingRecord,
  MessageTooLargeError,
  PublishError,
} from '@tidings/core/adapter';
import type { Message, Options } from 'amqplib';
import { DELAY_HEADER_PREFIX } from './delay';
import { MAX_NAME_BYTES } from './names';
import type { QueueType } from './options';

/** The record's key (absent when the record has none). */
export const KEY_HEADER = 'tidings-key';
/** The record's topic, on retried copies, whose routing key is their queue's name. */
export const TOPIC_HEADER = 'tidings-topic';
/**
 * The id of a dead letter in its queue, stamped by the adapter when it dead-letters a record (see
 * `letterId` in `letters.ts`): sortable, so that it can be a cursor.
 */
export const LETTER_ID_HEADER = 'tidings-letter-id';
/** The consumer group a registration message of a group registry names (see `groups.ts`). */
export const GROUP_HEADER = 'tidings-group';
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
    name === LETTER_ID_HEADER ||
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
  readonly options: Options.Publish & {
    readonly messageId: string;
    readonly headers: Readonly<Record<string, string>>;
  };
  /** The record's topic, for error messages. */
  readonly topic: string;
  /** UTF-16 length of every header name and value: a cheap bound of the header table's size. */
  readonly headerChars: number;
}

/**
 * amqplib encodes a message's header table into a scratch buffer of 64 KiB, whatever the
 * negotiated frame_max: a larger table throws a `RangeError` from `publish`.
 */
export const AMQPLIB_TABLE_BYTES = 65_536;

/** frame_max when the broker has not said yet: amqplib's and RabbitMQ's default. */
export const DEFAULT_FRAME_MAX = 131_072;

/**
 * What a content header frame holds besides the header table: the frame's own header and end
 * (8 bytes), class, weight, body size and property flags (14), a content type and a message id
 * (1 + 255 each at most), the delivery mode (1), rounded up.
 */
const HEADER_FRAME_RESERVE = 600;

/** Bytes a header takes in a table besides its name and value: name length, type tag, value length. */
export const HEADER_ENTRY_BYTES = 6;

/**
 * The largest header table a message can carry: it must fit amqplib's encoding buffer, and the
 * content header frame it travels in must fit the frame_max negotiated with the broker (RabbitMQ
 * closes the connection on a larger frame).
 */
export function headerTableLimit(frameMax: number): number {
  return Math.min(AMQPLIB_TABLE_BYTES, frameMax - HEADER_FRAME_RESERVE);
}

/** Encoded size of a header table of string values: its length prefix, then each entry. */
export function headerTableBytes(headers: Readonly<Record<string, string>>): number {
  let bytes = 4;
  for (const name of Object.keys(headers)) {
    bytes += HEADER_ENTRY_BYTES + Buffer.byteLength(name) + Buffer.byteLength(headers[name]!);
  }
  return bytes;
}

/**
 * A `MessageTooLargeError` (permanent: retrying cannot help) when the publication's headers do
 * not fit a table of `limit` bytes, else `undefined`. Checked before anything is sent, so that
 * amqplib never throws its `RangeError` and the broker never sees an oversize frame.
 */
export function headerTableProblem(publication: Publication, limit: number): Error | undefined {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: most records are settled without measuring.
  const entries = Object.keys(publication.options.headers).length;
  if (4 + entries * HEADER_ENTRY_BYTES + publication.headerChars * 3 <= limit) return undefined;
  const size = headerTableBytes(publication.options.headers);
  if (size <= limit) return undefined;
  const error = new MessageTooLargeError(size, limit);
  error.message = `the headers of a record for "${clipped(publication.topic)}" take ${size} bytes on the wire; RabbitMQ (through amqplib) takes at most ${limit} bytes of headers per message`;
  return error;
}

/** A record to put on the wire: what an outgoing record and a redelivered copy have in common. */
export interface WireRecord {
  readonly key: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/**
 * The AMQP message for a record. `messageId` is kept when the record already has one (its
 * CloudEvents id or the id it arrived with); `extra` headers go over the record's own. The record
 * has passed `checkOutgoing` (or is one the adapter made itself): what is left to refuse is what
 * AMQP alone refuses, a header name over 255 bytes.
 */
export function publicationOf(
  record: WireRecord,
  target: { readonly exchange: string; readonly routingKey: string; readonly topic: string },
  messageId: string,
  mandatory: boolean,
  extra?: Readonly<Record<string, string>>,
): Publication {
  // No prototype: a header named `__proto__` is a header like any other, not a prototype to set.
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  let contentType: string | undefined;
  let chars = 0;
  const source = record.headers;
  for (const name of Object.keys(source)) {
    const value = source[name]!;
    // A name of at most 85 UTF-16 units is at most 255 bytes: measured only when it might not be.
    if (name.length > MAX_NAME_BYTES / 3 && Buffer.byteLength(name) > MAX_NAME_BYTES) {
      throw new PublishError(
        `header name ${JSON.stringify(clipped(name))} of a record for "${clipped(target.topic)}" is longer than ${MAX_NAME_BYTES} bytes (an AMQP field name)`,
        { topic: target.topic },
      );
    }
    // A content type that fits the property travels there, as the binding says; a longer one stays a header.
    if (name === CONTENT_TYPE_HEADER && Buffer.byteLength(value) <= MAX_NAME_BYTES) contentType = value;
    else {
      headers[name] = value;
      chars += name.length + value.length;
    }
  }
  if (record.key !== undefined) {
    headers[KEY_HEADER] = record.key;
    chars += KEY_HEADER.length + record.key.length;
  }
  if (extra !== undefined) {
    for (const name of Object.keys(extra)) {
      headers[name] = extra[name]!;
      chars += name.length + extra[name]!.length;
    }
  }
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
    headerChars: chars,
  };
}

/** The message id a record's publication carries: its CloudEvents id when it has one that fits. */
export function messageIdOf(record: WireRecord, fallback: () => string): string {
  const id: unknown = ownValue(record.headers, CLOUD_EVENTS_ID_HEADER);
  return typeof id === 'string' && id.length > 0 && Buffer.byteLength(id) <= MAX_NAME_BYTES ? id : fallback();
}

/**
 * The record a delivered message carries, its attempt by the kit's one rule (`attemptOf`): the
 * attempt the copy was published as (`tidings-attempt`, 1 for an original), plus the deliveries
 * of this copy beyond the first (see {@link deliveriesOf}).
 */
export function incomingRecordOf(message: Message, queue: string, queueType: QueueType): IncomingRecord {
  // amqplib decodes a header table into a plain object: a header named `__proto__` whose value is
  // a table becomes its prototype, whose keys a `for…in` or a lookup would take for headers. Only
  // own properties count, and the record's headers have no prototype.
  const raw: Record<string, unknown> = message.properties.headers ?? {};
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const name of Object.keys(raw)) {
    if (isTransportHeader(name)) continue;
    const text = headerText(raw[name]);
    if (text !== undefined) headers[name] = text;
  }
  const contentType: unknown = message.properties.contentType;
  if (typeof contentType === 'string' && headers[CONTENT_TYPE_HEADER] === undefined) {
    headers[CONTENT_TYPE_HEADER] = contentType;
  }
  const topic = headerText(ownValue(raw, TOPIC_HEADER)) ?? message.fields.routingKey;
  const key = headerText(ownValue(raw, KEY_HEADER));
  const messageId: unknown = message.properties.messageId;
  return {
    topic,
    key,
    headers,
    body: message.content,
    attempt: attemptOf(headers, deliveriesOf(message, raw, queueType)),
    position:
      typeof messageId === 'string' && messageId.length > 0
        ? `${queue}#${messageId}`
        : `${queue}#delivery-${message.fields.deliveryTag}`,
  };
}

/**
 * How many times the broker has delivered this copy, this delivery included. A quorum queue counts
 * the earlier deliveries in `x-delivery-count` (absent on the first). A classic queue counts
 * nothing, and only says whether there was an earlier one (`redelivered`): that counts as one, a
 * lower bound; an `x-delivery-count` there was written by a producer, not by the broker.
 */
function deliveriesOf(message: Message, raw: Record<string, unknown>, queueType: QueueType): number {
  const earlier = queueType === 'quorum' ? ownValue(raw, 'x-delivery-count') : undefined;
  if (typeof earlier === 'number' && Number.isSafeInteger(earlier) && earlier >= 0) return earlier + 1;
  return message.fields.redelivered ? 2 : 1;
}

/** `record[name]` when it is the record's own, not inherited from a forged prototype. */
function ownValue(record: object, name: string): unknown {
  return Object.hasOwn(record, name) ? (record as Record<string, unknown>)[name] : undefined;
}

function clipped(text: string): string {
  return text.length <= 100 ? text : `${text.slice(0, 99)}…`;
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
