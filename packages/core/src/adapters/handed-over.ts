import type { OutgoingRecord, RecordHeaders } from './contract';

/**
 * @internal A record given up by whoever made it: its headers object and body are fresh and
 * nobody else holds them, so a broker that keeps records may keep these as they are instead of
 * copying them. The bus makes them for a publish that no middleware sees; the memory broker uses
 * them for its own dead letters. Every other record (from `prepare`, a relay, an adapter author)
 * is a plain object and is copied as before.
 */
export class HandedOverRecord implements OutgoingRecord {
  constructor(
    readonly topic: string,
    readonly key: string | undefined,
    readonly headers: RecordHeaders,
    readonly body: Uint8Array,
  ) {}
}
