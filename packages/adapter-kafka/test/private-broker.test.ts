import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { type Bus, createBus, defineEvent, type Logger } from '@tidings/core';
import type { ConnectionState } from '@tidings/core/adapter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createKafkaAdapter, type KafkaAdapterOptions, type KafkaLogEntry } from '../src';
import { TEST_CONSUMER, testNamespace } from './helpers';
import { freePorts, PrivateKafka } from './private-broker';

// One private node for the file, with a SASL_PLAINTEXT listener: the shared broker must keep no
// password, and must never be stopped.
const password = `right-${randomBytes(12).toString('hex')}`;
let node: PrivateKafka;

beforeAll(async () => {
  node = await PrivateKafka.start({ saslUsers: { app: password } });
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

/** Everything a scenario lets out: errors, the bus's and the adapter's log entries, health reports. */
class Transcript {
  readonly items: unknown[] = [];
  readonly adapterLog: KafkaLogEntry[] = [];
  readonly busLog: { level: string; message: string; fields: unknown }[] = [];

  add(item: unknown): void {
    this.items.push(item);
  }

  /** The bus's logger, keeping every line. */
  get logger(): Logger {
    const line = (level: string) => (fields: Record<string, unknown>, message: string) => {
      this.busLog.push({ level, message, fields });
    };
    return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
  }

  /** Everything, printed as deep as it goes, hidden properties and causes included. */
  text(): string {
    return [...this.items, ...this.adapterLog, ...this.busLog]
      .map((item) =>
        inspect(item, { depth: 12, showHidden: true, maxStringLength: Number.POSITIVE_INFINITY }),
      )
      .join('\n');
  }

  /** Resolves once the bus has logged a line matching `pattern`. */
  async untilBusSays(pattern: RegExp, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.busLog.some((line) => pattern.test(line.message))) {
      if (Date.now() > deadline) {
        const adapterSaid = this.adapterLog
          .slice(-30)
          .map(
            (entry) =>
              `${entry.namespace} ${entry.message} ${inspect(entry.fields, { breakLength: Infinity })}`,
          );
        throw new Error(
          `the bus did not log ${pattern}; it logged:\n${this.busLog.map((l) => l.message).join('\n')}\n` +
            `the adapter's last entries:\n${adapterSaid.join('\n')}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

function adapterOptions(
  transcript: Transcript,
  overrides: Partial<KafkaAdapterOptions>,
): KafkaAdapterOptions {
  return {
    brokers: node.brokers,
    clientId: 'tidings-private',
    sasl: { mechanism: 'plain', username: 'app', password },
    connectionTimeoutMs: 1_000,
    logger: (entry) => transcript.adapterLog.push(entry),
    logLevel: 'debug',
    consumer: TEST_CONSUMER,
    ...overrides,
  };
}

/** Runs a bus that cannot connect, and collects what it and its adapter say. */
async function failingBus(transcript: Transcript, options: KafkaAdapterOptions): Promise<Error> {
  const adapter = createKafkaAdapter(options);
  const bus = createBus({ source: 'private-test', adapter, logger: transcript.logger });
  bus.subscribe(Ping, { group: `${namespace}-g-secret` }, () => undefined);
  const failure = await bus.start().then(
    () => new Error('the bus started'),
    (error: Error) => error,
  );
  transcript.add(failure);
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
        kafkaConfig: { retry: { retries: 1, initialRetryTime: 50 } },
      }),
    );
    // The cause is kept: a closed port reads as one.
    expect(failure).toMatchObject({ name: 'ConnectionError', code: 'CONNECTION' });
    expect(failure.message).toMatch(/ECONNREFUSED/);
    expect(transcript.adapterLog.length).toBeGreaterThan(0);
    expect(transcript.busLog.some((line) => /could not connect/.test(line.message))).toBe(true);
    expect(transcript.text()).not.toContain(password);
  });

  it('keeps a wrong password out of everything too, and says the password was refused', async () => {
    const transcript = new Transcript();
    const wrong = `wrong-${randomBytes(12).toString('hex')}`;
    const failure = await failingBus(
      transcript,
      adapterOptions(transcript, {
        sasl: { mechanism: 'plain', username: 'app', password: wrong },
        kafkaConfig: { retry: { retries: 0 } },
      }),
    );
    expect(failure).toMatchObject({ name: 'ConnectionError', code: 'CONNECTION' });
    expect(failure.message).toMatch(/SASL PLAIN authentication failed.*Invalid username or password/);
    expect(failure.cause).toMatchObject({ name: 'KafkaJSSASLAuthenticationError' });
    expect(transcript.text()).not.toContain(wrong);
  });
});

describe('kafka connection state', () => {
  it('tells the bus when the broker goes away and when it is back, and goes on delivering', async () => {
    const transcript = new Transcript();
    const adapter = createKafkaAdapter(
      adapterOptions(transcript, {
        // Quick reconnection attempts, so the test does not wait out kafkajs's backoff.
        kafkaConfig: { retry: { initialRetryTime: 100, maxRetryTime: 1_000, retries: 60 } },
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
      await transcript.untilBusSays(/^kafka connection lost; reconnecting$/, 20_000);
      expect(adapter.state).toBe('reconnecting');
      expect(bus.health().status).toBe('down');

      await node.resume();
      await transcript.untilBusSays(/^kafka connection restored$/, 30_000);
      expect(adapter.state).toBe('connected');

      await bus.publish(Ping, { n: 2 });
      await until(() => handled.includes(2), 30_000, 'no event was handled after the broker came back');
    } finally {
      await bus.stop();
    }
    // Once per outage, whatever kafkajs tried meanwhile.
    expect(states).toEqual(['connecting', 'connected', 'reconnecting', 'connected', 'closed']);
    expect(transcript.busLog.filter((line) => /connection lost/.test(line.message))).toHaveLength(1);
    expect(transcript.text()).not.toContain(password);
  }, 120_000);
});

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(what);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
