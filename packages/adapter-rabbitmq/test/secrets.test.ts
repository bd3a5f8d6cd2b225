import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { SecretEvidence } from '@tidings/conformance';
import { createBus, defineEvent } from '@tidings/core';
import type { BrokerAdapter, ConnectionState, ConnectionStateReporter } from '@tidings/core/adapter';
import { credentials } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createRabbitMQAdapter, type RabbitMQAdapterOptions } from '../src/index';
import { RABBITMQ_URL, uniqueName } from './support/broker';

const Ping = defineEvent({ type: 'secrets.ping', schema: z.object({ n: z.number() }) });
const exchange = uniqueName('secrets');

/** A password with characters a URL must escape, different on every run. */
const secret = `Pa55/w@rd:${randomBytes(6).toString('hex')}`;
const inUrl = encodeURIComponent(secret);

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Every cause of an error, itself first. */
function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let current = error; current !== undefined && chain.length < 10; current = (current as Error).cause) {
    chain.push(current);
  }
  return chain;
}

interface Observed {
  readonly startError: Error;
  readonly publishError: Error;
  /** Everything the adapter and the bus said: errors with causes, logs, health, states. */
  readonly evidence: SecretEvidence;
  readonly elapsedMs: number;
}

/** Starts a bus on the adapter (which fails), publishes, and collects everything that was said. */
async function observe(options: RabbitMQAdapterOptions): Promise<Observed> {
  const adapter = createRabbitMQAdapter({
    exchange,
    connectTimeoutMs: 1_000,
    publishTimeoutMs: 300,
    reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
    ...options,
  });
  const states: { state: ConnectionState; error: Error | undefined }[] = [];
  (adapter as BrokerAdapter & ConnectionStateReporter).onStateChange((state, error) => {
    states.push({ state, error });
  });
  const evidence = new SecretEvidence();
  const bus = createBus({ source: 'secrets-test', adapter, logger: evidence.logger });
  bus.subscribe(Ping, { group: 'secrets' }, () => undefined);
  const started = performance.now();
  const startError = await evidence.failure(bus.start());
  const elapsedMs = performance.now() - started;
  const publishError = await evidence.failure(
    adapter.publish([{ topic: 'secrets.ping', key: undefined, headers: {}, body: Buffer.from('x') }]),
  );
  evidence.add(bus.health());
  await bus.stop();
  evidence.add(states);
  expect(states.map((s) => s.state)).toContain('failed');
  return { startError, publishError, evidence, elapsedMs };
}

function expectNoSecret(evidence: SecretEvidence): void {
  evidence.expectNoSecret(secret);
  // The password alone, without the characters around it.
  expect(evidence.text()).not.toContain(secret.split(':')[1]);
}

describe('credentials in errors, logs and health', () => {
  it('never shows the password of the URL when the port is closed, and says the port refused', async () => {
    const port = await closedPort();
    const seen = await observe({ url: `amqp://app:${inUrl}@127.0.0.1:${port}` });
    expectNoSecret(seen.evidence);
    expect(seen.startError).toMatchObject({ code: 'CONNECTION' });
    expect(seen.startError.message).toContain(`amqp://app:***@127.0.0.1:${port}`);
    expect(causes(seen.startError)).toContainEqual(expect.objectContaining({ code: 'ECONNREFUSED' }));
    expect(seen.publishError).toMatchObject({ code: 'PUBLISH' });
    expect(seen.evidence.text()).toContain('ECONNREFUSED');
  });

  it('never shows the password of a connection object or of explicit credentials', async () => {
    const port = await closedPort();
    const seen = await observe({ url: { hostname: '127.0.0.1', port, username: 'app', password: secret } });
    expectNoSecret(seen.evidence);
    const viaCredentials = await observe({
      url: `amqp://127.0.0.1:${port}`,
      socketOptions: { credentials: credentials.plain('app', secret) },
    });
    expectNoSecret(viaCredentials.evidence);
  });

  it('fails at once on a wrong password, saying the broker refused the login, without the password', async () => {
    const seen = await observe({
      url: RABBITMQ_URL.replace(/:[^:@/]*@/, `:${inUrl}@`),
      connectTimeoutMs: 10_000,
    });
    expectNoSecret(seen.evidence);
    expect(seen.startError).toMatchObject({ code: 'CONNECTION' });
    expect(seen.startError.message).toMatch(/refused the login for user "guest"/);
    expect(
      causes(seen.startError)
        .map((e) => (e as Error).message)
        .join('\n'),
    ).toMatch(/ACCESS.REFUSED/);
    expect(seen.evidence.text()).not.toContain('ECONNREFUSED');
    // Not retried until the connect timeout: the broker would refuse the same login again.
    expect(seen.elapsedMs).toBeLessThan(2_000);
    // RabbitMQ does not lock a user out after failed logins: the right password still works.
    const adapter = createRabbitMQAdapter({ url: RABBITMQ_URL, exchange });
    await adapter.connect();
    await adapter.close();
  });
});
