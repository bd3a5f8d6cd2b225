import { ConfigError } from '@tidings/core';
import { expect } from 'vitest';

/**
 * Calls a factory that must refuse its options, checks that it threw a `ConfigError`, and returns
 * the error's message (it starts with the dotted path of the bad field), for an adapter's tests of
 * its option checks.
 *
 * @example
 * ```ts
 * expect(configRefusal(() => createMyAdapter({ url, timout: 5 }))).toMatch(/^timout: .*"timeoutMs"/);
 * ```
 */
export function configRefusal(make: () => unknown): string {
  try {
    make();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error('expected a ConfigError, but the factory accepted its options');
}
