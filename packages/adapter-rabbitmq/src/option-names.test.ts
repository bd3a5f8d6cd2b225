import { ConfigError } from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import { createRabbitMQAdapter } from './adapter';

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
    expect(refusal(() => createRabbitMQAdapter({ url: 'amqp://localhost', prefech: 10 }))).toMatch(
      /^prefech: unknown option/,
    );
    // @ts-expect-error idem
    expect(refusal(() => createRabbitMQAdapter({ queuetype: 'quorum' }))).toMatch(
      /^queuetype: .*did you mean "queueType"/,
    );
    // @ts-expect-error idem
    expect(refusal(() => createRabbitMQAdapter({ reconnect: { maxDelay: 1 } }))).toMatch(
      /^reconnect.maxDelay: .*"maxDelayMs"/,
    );
    // amqplib's own configuration passes through unchecked.
    expect(() =>
      createRabbitMQAdapter({
        url: { hostname: 'localhost', frameMax: 4096 },
        socketOptions: { noDelay: true },
      }),
    ).not.toThrow();
  });
});
