import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ApplicationDescription, BrokerAdapter } from '@tidings/core';
import { ConfigError } from '@tidings/core';
import { createJiti } from 'jiti';

/**
 * What `tidings.config.ts` (or `.mts`, `.js`, `.mjs`, `.cjs`) exports by default: how to reach the
 * broker, and the application's contracts, named as the application's bus names them.
 *
 * @example
 * ```ts
 * // tidings.config.ts
 * import { defineConfig } from '@tidings/cli';
 * import { createRedisStreamsAdapter } from '@tidings/adapter-redis-streams';
 * import { OrderPlaced } from './src/events';
 *
 * export default defineConfig({
 *   adapter: () => createRedisStreamsAdapter({ connection: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' }),
 *   events: [OrderPlaced],
 *   subscriptions: [{ group: 'billing', events: [OrderPlaced] }],
 * });
 * ```
 */
export interface TidingsConfig extends ApplicationDescription {
  /** Makes the adapter a command works through; called once per command, closed at its end. */
  readonly adapter: () => BrokerAdapter | Promise<BrokerAdapter>;
  /** CloudEvents `source` of what `tidings publish` publishes. Default `tidings-cli`. */
  readonly source?: string;
}

/**
 * Declares a config with its types checked; returns it unchanged.
 *
 * @example
 * ```ts
 * import { defineConfig } from '@tidings/cli';
 * import { createMemoryAdapter } from '@tidings/core';
 *
 * export default defineConfig({ adapter: () => createMemoryAdapter() });
 * ```
 */
export function defineConfig(config: TidingsConfig): TidingsConfig {
  return config;
}

/** The names `tidings` looks for in the working directory, in this order. */
export const CONFIG_FILES = [
  'tidings.config.ts',
  'tidings.config.mts',
  'tidings.config.cts',
  'tidings.config.js',
  'tidings.config.mjs',
  'tidings.config.cjs',
] as const;

/** A config file found and loaded. */
export interface LoadedConfig {
  readonly path: string;
  readonly config: TidingsConfig;
}

/** The config file named, or the first of {@link CONFIG_FILES} in `cwd`; undefined when none. */
export function findConfig(cwd: string, named: string | undefined): string | undefined {
  if (named !== undefined) {
    const path = resolve(cwd, named);
    if (!existsSync(path)) throw new ConfigError('config', `no config file at ${path}`);
    return path;
  }
  for (const name of CONFIG_FILES) {
    const path = resolve(cwd, name);
    if (existsSync(path)) return path;
  }
  return undefined;
}

/**
 * Loads a config file. TypeScript is compiled in memory by jiti, so a project needs no build step
 * for it; JavaScript files are imported as they are.
 */
export async function loadConfig(path: string): Promise<LoadedConfig> {
  let loaded: unknown;
  if (/\.[cm]?ts$/.test(path)) {
    const jiti = createJiti(pathToFileURL(path).href, { interopDefault: true, moduleCache: false });
    loaded = await jiti.import(path, { default: true });
  } else {
    const module = (await import(pathToFileURL(path).href)) as { default?: unknown };
    loaded = module.default ?? module;
  }
  return { path, config: checkConfig(loaded, path) };
}

function checkConfig(value: unknown, path: string): TidingsConfig {
  if (value === null || typeof value !== 'object') {
    throw new ConfigError('config', `${path} must export a config object by default (defineConfig({ ... }))`);
  }
  const config = value as Partial<TidingsConfig>;
  if (typeof config.adapter !== 'function') {
    throw new ConfigError('adapter', `${path}: adapter must be a function that makes the adapter`);
  }
  if (config.events !== undefined && !Array.isArray(config.events)) {
    throw new ConfigError('events', `${path}: events must be an array of contracts`);
  }
  for (const [i, subscription] of (config.subscriptions ?? []).entries()) {
    if (typeof subscription?.group !== 'string' || !Array.isArray(subscription.events)) {
      throw new ConfigError(
        `subscriptions[${i}]`,
        `${path}: each subscription needs a group name and an array of events`,
      );
    }
  }
  for (const [i, producer] of (config.producers ?? []).entries()) {
    if (typeof producer?.name !== 'string' || !Array.isArray(producer.events)) {
      throw new ConfigError(`producers[${i}]`, `${path}: each producer needs a name and an array of events`);
    }
  }
  return config as TidingsConfig;
}
