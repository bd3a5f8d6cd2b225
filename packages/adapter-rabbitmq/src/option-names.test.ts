import { configRefusal } from '@tidings/conformance';
import { describe, expect, it } from 'vitest';
import { createRabbitMQAdapter } from './adapter';

describe('unknown option names', () => {
  it('are a ConfigError naming the field, with the nearest known name', () => {
    // @ts-expect-error a typo, as JavaScript or a spread object would pass it
    expect(configRefusal(() => createRabbitMQAdapter({ url: 'amqp://localhost', prefech: 10 }))).toMatch(
      /^prefech: unknown option/,
    );
    // @ts-expect-error idem
    expect(configRefusal(() => createRabbitMQAdapter({ queuetype: 'quorum' }))).toMatch(
      /^queuetype: .*did you mean "queueType"/,
    );
    // @ts-expect-error idem
    expect(configRefusal(() => createRabbitMQAdapter({ reconnect: { maxDelay: 1 } }))).toMatch(
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
