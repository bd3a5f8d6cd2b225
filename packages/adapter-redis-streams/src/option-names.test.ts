import { configRefusal } from '@tidings/conformance';
import { describe, expect, it } from 'vitest';
import { createRedisStreamsAdapter } from './adapter';

describe('unknown option names', () => {
  it('are a ConfigError naming the field, with the nearest known name', () => {
    // @ts-expect-error a typo, as JavaScript or a spread object would pass it
    expect(configRefusal(() => createRedisStreamsAdapter({ claimIdle: 1_000 }))).toMatch(
      /^claimIdle: .*did you mean "claimIdleMs"/,
    );
    // @ts-expect-error idem
    expect(configRefusal(() => createRedisStreamsAdapter({ trim: { maxLen: 10 } }))).toMatch(
      /^trim.maxLen: .*"maxLength"/,
    );
    expect(
      // @ts-expect-error idem
      configRefusal(() => createRedisStreamsAdapter({ waitForReplicas: { replicas: 1, timeout: 1 } })),
    ).toMatch(/^waitForReplicas.timeout: /);
    // ioredis's own configuration passes through unchecked.
    expect(() =>
      createRedisStreamsAdapter({ connection: { host: '127.0.0.1', keepAlive: 1_000 } }),
    ).not.toThrow();
  });
});
