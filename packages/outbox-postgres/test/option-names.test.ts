import { createBus } from '@tidings/core';
import { ConfigError } from '@tidings/core/adapter';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createPostgresInbox, createPostgresOutbox } from '../src/index';

/** The message of the ConfigError a factory throws. */
function refusal(make: () => unknown): string {
  try {
    make();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    // The message starts with the field's path.
    return (error as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
}

describe('unknown option names', () => {
  it('are a ConfigError naming the field, with the nearest known name', async () => {
    // Nothing connects: the options are checked when the outbox and inbox are made.
    const pool = new pg.Pool();
    const bus = createBus({ source: 'test' });
    try {
      // @ts-expect-error a typo, as JavaScript or a spread object would pass it
      expect(refusal(() => createPostgresOutbox({ pool, bus, tabel: 'x' }))).toMatch(
        /^tabel: .*did you mean "table"/,
      );
      expect(
        // @ts-expect-error idem
        refusal(() => createPostgresOutbox({ pool, bus, retention: { maxAge: 1 } })),
      ).toMatch(/^retention.maxAge: .*"maxAgeMs"/);
      // @ts-expect-error idem
      expect(refusal(() => createPostgresInbox({ pool, ttl: 1 }))).toMatch(/^ttl: .*did you mean "ttlMs"/);
    } finally {
      await pool.end();
    }
  });
});
