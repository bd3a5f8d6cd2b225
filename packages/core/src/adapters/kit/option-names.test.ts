import { describe, expect, it } from 'vitest';
import { OrderPlaced } from '../../../test/support/contracts';
import { createBus } from '../../bus/bus';
import { ConfigError } from '../../errors';
import { createMemoryOutbox } from '../../outbox/memory-outbox';
import { createOutboxRelay } from '../../outbox/relay';
import { createMemoryAdapter } from '../memory/adapter';
import { checkOptionNames, type OptionNames } from './option-names';

interface Sample {
  readonly prefetch?: number;
  readonly url?: string;
}
const NAMES: OptionNames<Sample> = { prefetch: true, url: true };

function configError(make: () => unknown): ConfigError {
  try {
    make();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('no ConfigError');
}

describe('checkOptionNames', () => {
  it('names an unknown option by its path and suggests the nearest known one', () => {
    const error = configError(() => checkOptionNames({ prefech: 1 }, NAMES, 'consumer'));
    expect(error.field).toBe('consumer.prefech');
    expect(error.message).toContain('did you mean "prefetch"?');
    expect(configError(() => checkOptionNames({ zzz: 1 }, NAMES)).message).not.toContain('did you mean');
    expect(() => checkOptionNames({ url: 'x', prefetch: 1 }, NAMES)).not.toThrow();
    expect(() => checkOptionNames(undefined, NAMES)).not.toThrow();
  });

  it('is applied to the bus, its subscriptions and defaults, the memory adapter, outbox and relay', () => {
    const bus = createBus({ source: 's' });
    // @ts-expect-error a typo, as a JavaScript user or a spread object would pass it
    expect(configError(() => createBus({ source: 's', drainTimeoutMS: 1 })).field).toBe('drainTimeoutMS');
    // @ts-expect-error idem
    expect(configError(() => createBus({ source: 's', subscriptionDefaults: { concurency: 2 } })).field).toBe(
      'subscriptionDefaults.concurency',
    );
    // @ts-expect-error idem
    expect(configError(() => createBus({ source: 's', telemetry: { trace: false } })).field).toBe(
      'telemetry.trace',
    );
    expect(
      configError(() =>
        // @ts-expect-error idem
        bus.subscribe(OrderPlaced, { group: 'g', retry: { maxAttempt: 3 } }, () => undefined),
      ).field,
    ).toBe('retry.maxAttempt');
    // Not a fresh object literal, so the compiler lets it through, as it would a spread.
    const typo = { group: 'g', concurency: 3 };
    expect(configError(() => bus.subscribe(OrderPlaced, typo, () => undefined)).field).toBe('concurency');
    // @ts-expect-error idem
    expect(configError(() => createMemoryAdapter({ maxMessagesBytes: 10 })).field).toBe('maxMessagesBytes');
    // @ts-expect-error idem
    expect(configError(() => createMemoryOutbox({ bus, maxPendng: 1 })).field).toBe('maxPendng');
    const store = createMemoryOutbox({ bus });
    // @ts-expect-error idem
    expect(configError(() => createOutboxRelay({ store, bus, batchsize: 10 })).message).toContain(
      'did you mean "batchSize"?',
    );
    // @ts-expect-error idem
    expect(configError(() => createOutboxRelay({ store, bus, backoff: { maxDelay: 10 } })).field).toBe(
      'backoff.maxDelay',
    );
  });
});
