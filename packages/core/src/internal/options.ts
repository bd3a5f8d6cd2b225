import { ConfigError } from '../errors';

/**
 * Copies an options object without its `undefined` members, so that `{ ...defaults, ...options }`
 * keeps a default when the caller passed `undefined` explicitly.
 */
export function definedOnly<T extends object>(options: T | undefined): Partial<T> {
  const out: Partial<T> = {};
  if (options === undefined) return out;
  for (const key of Object.keys(options) as (keyof T)[]) {
    if (options[key] !== undefined) out[key] = options[key];
  }
  return out;
}

/** Checks that `value` is an integer within bounds, or throws a `ConfigError` naming `field`. */
export function checkInteger(
  field: string,
  value: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
    throw new ConfigError(field, `must be an integer ${range}, got ${String(value)}`);
  }
  return value;
}
