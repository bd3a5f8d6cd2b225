import { createRequire } from 'node:module';
import { ConfigError } from '@tidings/core/adapter';
import type * as Kafkajs from 'kafkajs';

/**
 * kafkajs, loaded when an adapter is made with `client: 'kafkajs'` and not before: it is an optional
 * peer dependency, so an application on the default client need not install it. Everything in this
 * folder takes kafkajs's values from here and imports only its types.
 *
 * @module
 */

let loaded: typeof Kafkajs | undefined;

/**
 * @internal The kafkajs module, loaded on first use; a `ConfigError` on `client` when it is not
 * installed.
 * @example
 * const kafka = new (kafkajs().Kafka)({ brokers });
 */
export function kafkajs(): typeof Kafkajs {
  loaded ??= loadKafkajs(createRequire(import.meta.url));
  return loaded;
}

/**
 * @internal Loads kafkajs with `load`; a missing package is a `ConfigError` that says what to do,
 * anything else is thrown as it is.
 * @example
 * const module = loadKafkajs(createRequire(import.meta.url));
 */
export function loadKafkajs(load: (id: string) => unknown): typeof Kafkajs {
  try {
    return load('kafkajs') as typeof Kafkajs;
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'MODULE_NOT_FOUND') throw error;
    throw new ConfigError(
      'client',
      "is 'kafkajs', but the kafkajs package is not installed: npm install kafkajs, or leave `client` out to run on @platformatic/kafka",
    );
  }
}
