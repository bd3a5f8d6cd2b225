import { ConfigError } from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import { createNatsAdapter, createNatsCoreAdapter } from './index';

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
  it('are a ConfigError naming the field, with the nearest known name', () => {
    const servers = 'nats://127.0.0.1:4222';
    // @ts-expect-error a typo, as JavaScript or a spread object would pass it
    expect(refusal(() => createNatsAdapter({ servers, ackWait: 1_000 }))).toMatch(
      /^ackWait: .*did you mean "ackWaitMs"/,
    );
    // @ts-expect-error idem
    expect(refusal(() => createNatsAdapter({ servers, stream: { maxAge: 1 } }))).toMatch(
      /^stream.maxAge: .*"maxAgeMs"/,
    );
    // @ts-expect-error idem
    expect(refusal(() => createNatsCoreAdapter({ servers, maxBufferedRecord: 1 }))).toMatch(
      /^maxBufferedRecord: .*"maxBufferedRecords"/,
    );
    // @ts-expect-error the core-NATS adapter has no stream
    expect(refusal(() => createNatsCoreAdapter({ servers, stream: {} }))).toMatch(/^stream: /);
    // nats.js's own configuration passes through unchecked.
    expect(() =>
      createNatsAdapter({ servers, connectionOptions: { name: 'x', maxReconnectAttempts: 1 } }),
    ).not.toThrow();
  });
});
