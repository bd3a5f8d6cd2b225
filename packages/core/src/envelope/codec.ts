import { DecodeError, EncodeError } from '../errors';

/**
 * Turns event data into body bytes and back. The content type travels with each event
 * (`datacontenttype`), so a consumer picks the codec that matches what the producer used.
 *
 * @example
 * ```ts
 * const textCodec: Codec = {
 *   contentType: 'text/plain',
 *   encode: (data) => Buffer.from(String(data)),
 *   decode: (body) => Buffer.from(body).toString('utf8'),
 * };
 * ```
 */
export interface Codec {
  /** MIME type written as the event's `datacontenttype`, e.g. `application/json`. */
  readonly contentType: string;
  /** Encodes data; throws on values it cannot represent. */
  encode(data: unknown): Uint8Array;
  /** Decodes a body; throws on malformed bytes (the core turns that into a `DecodeError`). */
  decode(body: Uint8Array): unknown;
}

const EMPTY = new Uint8Array(0);

/**
 * The default codec: UTF-8 JSON. `undefined` data encodes to an empty body and back.
 *
 * @example
 * ```ts
 * const bus = createBus({ source: 'billing', codecs: [jsonCodec] });
 * ```
 */
export const jsonCodec: Codec = {
  contentType: 'application/json',
  encode(data: unknown): Uint8Array {
    if (data === undefined) return EMPTY;
    return Buffer.from(JSON.stringify(data), 'utf8');
  },
  decode(body: Uint8Array): unknown {
    if (body.byteLength === 0) return undefined;
    const text = Buffer.isBuffer(body)
      ? body.toString('utf8')
      : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
    return JSON.parse(text);
  },
};

/** Finds the codec for a content type, ignoring parameters such as `; charset=utf-8`. */
export function selectCodec(
  codecs: ReadonlyMap<string, Codec>,
  contentType: string | undefined,
  fallback: Codec,
): Codec {
  if (contentType === undefined || contentType === '') return fallback;
  const exact = codecs.get(contentType);
  if (exact !== undefined) return exact;
  const semicolon = contentType.indexOf(';');
  const bare = (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
  const codec = codecs.get(bare);
  if (codec === undefined) {
    throw new DecodeError(
      `no codec for content type "${contentType}"; known: ${[...codecs.keys()].join(', ')}`,
    );
  }
  return codec;
}

/**
 * @internal Encodes event data with `codec`, turning whatever it throws (a circular structure, a
 * `BigInt` under JSON) or a result that is not bytes into an `EncodeError`.
 */
export function encodeData(codec: Codec, eventType: string, data: unknown): Uint8Array {
  let body: unknown;
  try {
    body = codec.encode(data);
  } catch (error) {
    throw new EncodeError(
      eventType,
      `cannot encode the data as ${codec.contentType}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  if (!(body instanceof Uint8Array)) {
    throw new EncodeError(eventType, `the ${codec.contentType} codec returned ${typeof body}, not bytes`);
  }
  return body;
}
