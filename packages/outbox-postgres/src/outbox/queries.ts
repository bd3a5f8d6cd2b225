import type { TableNames } from '../schema/names';

/** The SQL the outbox runs, built once per table. */
export interface OutboxQueries {
  /** $1..$6 the columns as arrays; inserts in array order. */
  readonly insert: string;
  /** The same, and `pg_notify($7, '')` in the same statement. */
  readonly insertAndNotify: string;
  /** $1 the most records, $2 how many of the oldest pending records to look at; see inside. */
  readonly claim: string;
  readonly markSent: string;
  readonly deleteSent: string;
  readonly markFailed: string;
  readonly markAttempted: string;
  readonly stats: string;
  /** $1 age in ms, $2 rows to keep (null: no limit), $3 chunk size. */
  readonly prune: string;
}

const pending = (alias: string): string => `${alias}.sent_at IS NULL AND ${alias}.failed_at IS NULL`;

export function outboxQueries(names: TableNames): OutboxQueries {
  const t = names.qualified;
  const insert = `INSERT INTO ${t} (event_id, event_type, topic, key, headers, body)
SELECT event_id, event_type, topic, key, headers, body
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::bytea[])
  WITH ORDINALITY AS u(event_id, event_type, topic, key, headers, body, n)
ORDER BY n`;
  return {
    insert,
    insertAndNotify: `WITH inserted AS (${insert} RETURNING 1) SELECT pg_notify($7, '')`,
    // Per-key order across relays. A relay may take a key's records only while it holds the
    // key's oldest pending record (its head), locked with SKIP LOCKED: a head another relay holds
    // is passed over, and the rest of that key is no head for anyone until the holder commits.
    // The search looks at the $2 oldest pending records only, so that a claim costs the same
    // with a backlog of millions: every key's head is among them if any of its records is (they
    // are the oldest), so the heads found there are true heads. The batch is those heads, then
    // the following records of the same keys from that window, in id order, up to $1.
    // Sets go through `= ANY(ARRAY(...))` rather than joins: a queue table's statistics are
    // often stale (analyzed while empty), and this shape plans as index lookups whatever they say.
    claim: `WITH candidates AS MATERIALIZED (
  SELECT c.id, c.key FROM ${t} c WHERE ${pending('c')} ORDER BY c.id LIMIT $2
), heads AS MATERIALIZED (
  SELECT o.id, o.key FROM ${t} o
  WHERE o.id = ANY (ARRAY(
      SELECT min(id) FROM candidates WHERE key IS NOT NULL GROUP BY key
      UNION ALL
      SELECT id FROM candidates WHERE key IS NULL))
    AND ${pending('o')}
  ORDER BY o.id
  LIMIT $1
  FOR UPDATE SKIP LOCKED
), followers AS (
  SELECT c.id FROM candidates c
  WHERE c.key = ANY (ARRAY(SELECT key FROM heads WHERE key IS NOT NULL))
    AND c.id <> ALL (ARRAY(SELECT id FROM heads))
  ORDER BY c.id
  LIMIT GREATEST($1 - (SELECT count(*) FROM heads), 0)
)
SELECT r.id::text AS id, r.topic, r.key, r.headers::text AS headers, r.body,
  (extract(epoch FROM r.created_at) * 1000)::float8 AS written_ms, r.attempts
FROM ${t} r
WHERE r.id = ANY (ARRAY(SELECT id FROM heads UNION ALL SELECT id FROM followers))
ORDER BY r.id
FOR UPDATE OF r`,
    markSent: `UPDATE ${t} SET sent_at = now() WHERE id = ANY($1::bigint[])`,
    deleteSent: `DELETE FROM ${t} WHERE id = ANY($1::bigint[])`,
    markFailed: `UPDATE ${t} AS o SET failed_at = now(), attempts = o.attempts + 1, last_error = f.error
FROM unnest($1::bigint[], $2::text[]) AS f(id, error) WHERE o.id = f.id`,
    markAttempted: `UPDATE ${t} SET attempts = attempts + 1, last_error = $2 WHERE id = ANY($1::bigint[])`,
    stats: `SELECT
  (SELECT count(*) FROM ${t} WHERE ${pending(t)})::float8 AS pending,
  (SELECT count(*) FROM ${t} WHERE failed_at IS NOT NULL)::float8 AS failed,
  COALESCE((SELECT extract(epoch FROM now() - created_at) * 1000 FROM ${t} WHERE ${pending(t)}
    ORDER BY id LIMIT 1), 0)::float8 AS lag_ms`,
    // Chunks with SKIP LOCKED: relays pruning at once share the work instead of waiting on each
    // other, and no statement holds many locks for long.
    prune: `WITH cutoff AS (
  SELECT sent_at FROM ${t} WHERE sent_at IS NOT NULL AND $2::bigint IS NOT NULL
  ORDER BY sent_at DESC OFFSET $2::bigint LIMIT 1
), doomed AS (
  SELECT id FROM ${t}
  WHERE sent_at IS NOT NULL
    AND (sent_at < now() - $1::float8 * interval '1 millisecond' OR sent_at <= (SELECT sent_at FROM cutoff))
  ORDER BY sent_at
  LIMIT $3
  FOR UPDATE SKIP LOCKED
)
DELETE FROM ${t} WHERE id IN (SELECT id FROM doomed)`,
  };
}
