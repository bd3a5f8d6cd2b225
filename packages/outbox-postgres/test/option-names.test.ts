import { configRefusal } from '@tidings/conformance';
import { createBus } from '@tidings/core';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createPostgresInbox, createPostgresOutbox } from '../src/index';

describe('unknown option names', () => {
  it('are a ConfigError naming the field, with the nearest known name', async () => {
    // Nothing connects: the options are checked when the outbox and inbox are made.
    const pool = new pg.Pool();
    const bus = createBus({ source: 'test' });
    try {
      // @ts-expect-error a typo, as JavaScript or a spread object would pass it
      expect(configRefusal(() => createPostgresOutbox({ pool, bus, tabel: 'x' }))).toMatch(
        /^tabel: .*did you mean "table"/,
      );
      expect(
        // @ts-expect-error idem
        configRefusal(() => createPostgresOutbox({ pool, bus, retention: { maxAge: 1 } })),
      ).toMatch(/^retention.maxAge: .*"maxAgeMs"/);
      // @ts-expect-error idem
      expect(configRefusal(() => createPostgresInbox({ pool, ttl: 1 }))).toMatch(
        /^ttl: .*did you mean "ttlMs"/,
      );
    } finally {
      await pool.end();
    }
  });
});
