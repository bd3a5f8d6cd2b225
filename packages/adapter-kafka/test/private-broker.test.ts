import { randomBytes } from 'node:crypto';
import { freePorts, LogCapture, SecretEvidence } from '@tidings/conformance';
import { type Bus, createBus, defineEvent } from '@tidings/core';
import type { ConnectionState } from '@tidings/core/adapter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createKafkaAdapter, type KafkaAdapterOptions } from '../src';
import { connectionRetries, TEST_CLIENT } from './clients';
import { loggingTo, TEST_CONSUMER, testNamespace } from './helpers';
import { PrivateKafka } from './private-broker';

// One private node for the file, with a SASL_PLAINTEXT listener: the shared broker must keep no
// password, and must never be stopped.
const password = `right-${randomBytes(12).toString('hex')}`;
let node: PrivateKafka;

beforeAll(async () => {
  node = await PrivateKafka.start({ saslUsers: { app: password }, scramUsers: { app: password } });
}, 120_000);

afterAll(async () => {
  await node?.dispose();
});

const namespace = testNamespace('s');

const Ping = defineEvent({
  type: 'test.ping',
  topic: `${namespace}-ping`,
  schema: z.object({ n: z.number() }),
});

/**
 * Everything a scenario lets out: the errors and health reports it adds, the bus's lines
 * (`evidence.logger`), and the adapter's own lines, kafkajs's included (`adapterLog`).
 */
class Transcript extends SecretEvidence {
  readonly adapterLog = new LogCapture();

  constructor() {
    super();
    this.add(this.adapterLog);
  }
}

function adapterOptions(
  transcript: Transcript,
  overrides: Partial<KafkaAdapterOptions>,
): KafkaAdapterOptions {
  return {
    brokers: node.brokers,
    clientId: 'tidings-private',
    client: TEST_CLIENT,
    sasl: { mechanism: 'plain', username: 'app', password },
    connectionTimeoutMs: 1_000,
    logger: loggingTo(transcript.adapterLog),
    logLevel: 'debug',
    consumer: TEST_CONSUMER,
    ...overrides,
  };
}

/**
 * The names and codes of an error and of every error behind it (`cause`, and `errors` of an
 * aggregate): kafkajs names its errors, @platformatic/kafka gives them codes.
 */
function errorNames(error: unknown, depth = 0): string[] {
  if (!(error instanceof Error) || depth > 10) return [];
  const inner = error instanceof AggregateError ? error.errors : [];
  const code = (error as { code?: unknown }).code;
  return [
    error.name,
    ...(typeof code === 'string' ? [code] : []),
    ...[error.cause, ...inner].flatMap((e) => errorNames(e, depth + 1)),
  ];
}

/** Runs a bus that cannot connect, and collects what it and its adapter say. */
async function failingBus(transcript: Transcript, options: KafkaAdapterOptions): Promise<Error> {
  const adapter = createKafkaAdapter(options);
  const bus = createBus({ source: 'private-test', adapter, logger: transcript.logger });
  bus.subscribe(Ping, { group: `${namespace}-g-secret` }, () => undefined);
  const failure = await transcript.failure(bus.start());
  transcript.add(bus.health());
  transcript.add(
    await adapter
      .publish([{ topic: Ping.topic!, key: undefined, headers: {}, body: Buffer.from('x') }])
      .catch((e) => e),
  );
  transcript.add(await adapter.connect().catch((error: unknown) => error));
  transcript.add(bus.health());
  await bus.stop().catch((error: unknown) => transcript.add(error));
  await adapter.close();
  return failure;
}

describe('kafka credentials', () => {
  it('keeps a SASL password out of every error, log line and health report when the port is closed', async () => {
    const transcript = new Transcript();
    const [closed] = await freePorts(1);
    const failure = await failingBus(
      transcript,
      adapterOptions(transcript, {
        brokers: [`127.0.0.1:${closed}`],
        ...connectionRetries(1),
      }),
    );
    // The cause is kept: a closed port reads as one.
    expect(failure).toMatchObject({ name: 'ConnectionError', code: 'CONNECTION' });
    expect(failure.message).toMatch(/ECONNREFUSED/);
    expect(transcript.adapterLog.lines.length).toBeGreaterThan(0);
    expect(transcript.logger.matching(/could not connect/).length).toBeGreaterThan(0);
    transcript.expectNoSecret(password);
  });

  it('keeps a wrong password out of everything too, and says the password was refused', async () => {
    const transcript = new Transcript();
    const wrong = `wrong-${randomBytes(12).toString('hex')}`;
    const failure = await failingBus(
      transcript,
      adapterOptions(transcript, {
        sasl: { mechanism: 'plain', username: 'app', password: wrong },
        ...connectionRetries(0),
      }),
    );
    expect(failure).toMatchObject({ name: 'ConnectionError', code: 'CONNECTION' });
    expect(failure.message).toMatch(/authentication failed.*Invalid username or password/i);
    // The client's own authentication error is kept, redacted, among the causes.
    expect(errorNames(failure)).toContain(
      TEST_CLIENT === 'kafkajs' ? 'KafkaJSSASLAuthenticationError' : 'PLT_KFK_AUTHENTICATION',
    );
    transcript.expectNoSecret(wrong);
  });
});

describe('kafka SASL mechanisms', () => {
  it.each(['scram-sha-256', 'scram-sha-512'] as const)(
    'logs in with %s and delivers, with the password in nothing it says',
    async (mechanism) => {
      const transcript = new Transcript();
      const adapter = createKafkaAdapter(
        adapterOptions(transcript, { sasl: { mechanism, username: 'app', password } }),
      );
      const handled: number[] = [];
      const bus = createBus({ source: 'private-test', adapter, logger: transcript.logger });
      bus.subscribe(Ping, { group: `${namespace}-g-${mechanism}`, startFrom: 'earliest' }, (event) => {
        handled.push(event.data.n);
      });
      try {
        await bus.start();
        await bus.publish(Ping, { n: 7 });
        await until(() => handled.includes(7), 20_000, `no event was handled over ${mechanism}`);
      } finally {
        await bus.stop();
      }
      transcript.add(bus.health());
      transcript.expectNoSecret(password);
    },
    60_000,
  );

  it('is refused by the broker for a wrong SCRAM password, which nothing repeats', async () => {
    const transcript = new Transcript();
    const wrong = `wrong-${randomBytes(12).toString('hex')}`;
    const failure = await failingBus(
      transcript,
      adapterOptions(transcript, {
        sasl: { mechanism: 'scram-sha-512', username: 'app', password: wrong },
        ...connectionRetries(0),
      }),
    );
    expect(failure).toMatchObject({ name: 'ConnectionError', code: 'CONNECTION' });
    // kafkajs: "SASL SCRAM SHA512 authentication failed"; @platformatic/kafka gives the broker's words.
    expect(failure.message).toMatch(/authentication failed/i);
    expect(failure.message).toMatch(/SCRAM.SHA.?512/);
    transcript.expectNoSecret(wrong);
  });
});

describe('kafka connection state', () => {
  it('tells the bus when the broker goes away and when it is back, and goes on delivering', async () => {
    const transcript = new Transcript();
    const adapter = createKafkaAdapter(
      adapterOptions(transcript, {
        // Quick reconnection attempts, so the test does not wait out the client's backoff.
        ...connectionRetries(60, 100, 1_000),
      }),
    );
    const states: ConnectionState[] = [];
    adapter.onStateChange((state) => states.push(state));
    const handled: number[] = [];
    const bus: Bus = createBus({ source: 'private-test', adapter, logger: transcript.logger });
    bus.subscribe(Ping, { group: `${namespace}-g-restart`, startFrom: 'earliest' }, (event) => {
      handled.push(event.data.n);
    });
    try {
      await bus.start();
      await bus.publish(Ping, { n: 1 });
      await until(() => handled.includes(1), 20_000, 'the first event was not handled');

      await node.stop();
      await transcript.logger.until(/^kafka connection lost; reconnecting$/, 20_000);
      expect(adapter.state).toBe('reconnecting');
      expect(bus.health().status).toBe('down');

      await node.resume();
      await transcript.logger.until(/^kafka connection restored$/, 30_000);
      expect(adapter.state).toBe('connected');

      await bus.publish(Ping, { n: 2 });
      await until(() => handled.includes(2), 30_000, 'no event was handled after the broker came back');
    } finally {
      await bus.stop();
    }
    // Once per outage, whatever kafkajs tried meanwhile.
    expect(states).toEqual(['connecting', 'connected', 'reconnecting', 'connected', 'closed']);
    expect(transcript.logger.matching(/connection lost/)).toHaveLength(1);
    transcript.expectNoSecret(password);
  }, 120_000);
});

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(what);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
