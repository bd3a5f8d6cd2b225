import { ConfigError } from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import { createRedisStreamsAdapter } from './adapter';

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
    // @ts-expect-error a typo, as JavaScript or a spread object would pass it
    expect(refusal(() => createRedisStreamsAdapter({ claimIdle: 1_000 }))).toMatch(
      /^claimIdle: .*did you mean "claimIdleMs"/,
    );
    // @ts-expect-error idem
    expect(refusal(() => createRedisStreamsAdapter({ trim: { maxLen: 10 } }))).toMatch(
      /^trim.maxLen: .*"maxLength"/,
    );
    expect(
      // @ts-expect-error idem
      refusal(() => createRedisStreamsAdapter({ waitForReplicas: { replicas: 1, timeout: 1 } })),
    ).toMatch(/^waitForReplicas.timeout: /);
    // ioredis's own configuration passes through unchecked.
    expect(() =>
      createRedisStreamsAdapter({ connection: { host: '127.0.0.1', keepAlive: 1_000 } }),
    ).not.toThrow();
  });
});
