import { Collector, SecretEvidence } from '@tidings/conformance';
import { createBus, defineEvent } from '@tidings/core';
import { ConnectionError } from '@tidings/core/adapter';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisStreamsAdapter, type RedisStreamsAdapter, type RedisStreamsAdapterOptions } from '../src';
import { spec } from './kit';
import { PrivateRedis } from './private-server';
import { waitUntil } from './wait';

const SECRET = 'Sup3r-S3cret-pw';
const Ping = defineEvent({ type: 'test.ping', schema: { type: 'object' } as const });

/** The messages of an error and its causes, one line. */
function messages(error: unknown): string {
  const out: string[] = [];
  for (let e = error; e instanceof Error && out.length < 6; e = e.cause) out.push(e.message);
  return out.join(' <- ');
}

/** Tries to connect, publish and subscribe through the adapter alone and through a bus. */
async function everyWayIn(evidence: SecretEvidence, options: RedisStreamsAdapterOptions): Promise<Error[]> {
  const errors: Error[] = [];
  const direct = createRedisStreamsAdapter({ ...options, connectTimeoutMs: 3_000 });
  try {
    errors.push(await evidence.failure(direct.connect()));
    errors.push(
      await evidence.failure(
        direct.publish([{ topic: 't', key: undefined, headers: {}, body: Buffer.from('x') }]),
      ),
    );
    errors.push(
      await evidence.failure(
        direct.subscribe(spec({ group: 'g', topics: ['t'] }), async () => ({ type: 'ack' })),
      ),
    );
    evidence.add(direct.state);
  } finally {
    await direct.close();
  }
  const bus = createBus({
    source: 'secrets-test',
    adapter: createRedisStreamsAdapter({ ...options, connectTimeoutMs: 3_000 }),
    logger: evidence.logger,
  });
  bus.subscribe(Ping, { group: 'g' }, () => undefined);
  try {
    errors.push(await evidence.failure(bus.start()));
    evidence.add(bus.health());
  } finally {
    await bus.stop().catch((error: unknown) => evidence.add(error));
  }
  return errors;
}

describe('credentials', () => {
  let server: PrivateRedis | undefined;
  const adapters: RedisStreamsAdapter[] = [];

  afterEach(async () => {
    await Promise.all(adapters.splice(0).map((a) => a.close({ signal: AbortSignal.timeout(2_000) })));
    await server?.stop();
    server = undefined;
  });

  it('never show in errors, logs or health when the port is closed; the cause says ECONNREFUSED', async () => {
    // A port nothing listens on: a private server's, once it is gone.
    const gone = await PrivateRedis.start();
    const port = gone.port;
    await gone.stop();
    const evidence = new SecretEvidence();
    const ways: RedisStreamsAdapterOptions[] = [
      { connection: `redis://:${SECRET}@127.0.0.1:${port}` },
      {
        connection: `redis://app:${encodeURIComponent(SECRET)}@127.0.0.1:${port}/0?sentinelPassword=${SECRET}`,
      },
      { connection: { host: '127.0.0.1', port, username: 'app', password: SECRET } },
    ];
    for (const options of ways) {
      const errors = await everyWayIn(evidence, options);
      for (const error of errors) {
        expect(error).toBeInstanceOf(ConnectionError);
        expect(messages(error)).toContain('ECONNREFUSED');
      }
    }
    expect(evidence.logger.matching(/^redis connection failed$/).length > 0).toBe(true);
    evidence.expectNoSecret(SECRET);
  });

  it('never show in errors, logs or health when the password is wrong; the cause says WRONGPASS', async () => {
    server = await PrivateRedis.start({ password: 'the-right-one' });
    const evidence = new SecretEvidence();
    const ways: RedisStreamsAdapterOptions[] = [
      { connection: `redis://:${SECRET}@127.0.0.1:${server.port}` },
      { connection: { host: '127.0.0.1', port: server.port, password: SECRET } },
      // RESP2: the password goes in an AUTH command rather than HELLO's.
      {
        connection: {
          host: '127.0.0.1',
          port: server.port,
          username: 'default',
          password: SECRET,
          protocol: 2,
        },
      },
    ];
    for (const options of ways) {
      const errors = await everyWayIn(evidence, options);
      for (const error of errors) {
        expect(error).toBeInstanceOf(ConnectionError);
        expect(messages(error)).toContain('WRONGPASS');
        expect(messages(error)).not.toContain('ECONNREFUSED');
      }
    }
    evidence.expectNoSecret(SECRET);
  });

  it('never show in lastError, health or logs when the password changes under a running subscription', async () => {
    server = await PrivateRedis.start({ password: SECRET });
    const admin = await server.admin();
    const evidence = new SecretEvidence();
    const adapter = createRedisStreamsAdapter({
      connection: { host: '127.0.0.1', port: server.port, password: SECRET },
    });
    adapters.push(adapter);
    const bus = createBus({ source: 'secrets-test', adapter, logger: evidence.logger });
    const direct = new Collector();
    try {
      bus.subscribe(Ping, { group: 'g' }, () => undefined);
      await bus.start();
      const subscription = await adapter.subscribe(
        spec({ group: 'direct', topics: ['direct'] }),
        direct.handler('d'),
      );
      // Every reconnection is refused from now on: ioredis retries with the old password, and
      // its error carries the command that failed (HELLO 3 AUTH default <password>).
      await admin.config('SET', 'requirepass', 'another-one');
      await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      await waitUntil(
        () => /WRONGPASS/.test(subscription.lastError?.message ?? ''),
        10_000,
        'the reader reports WRONGPASS',
      );
      evidence.add(subscription.lastError);
      evidence.add(bus.health());
      evidence.expectNoSecret(SECRET);
      await evidence.logger.until(/^redis connection lost; reconnecting$/, 10_000);
      evidence.add(subscription.lastError);
      evidence.add(bus.health());
      // The password back as it was: the connections come back (and close quickly).
      await admin.config('SET', 'requirepass', SECRET);
      await evidence.logger.until(/^redis connection restored$/, 10_000);
      evidence.expectNoSecret(SECRET);
    } finally {
      await admin.quit().catch(() => undefined);
      await bus.stop().catch(() => undefined);
    }
  });
});
