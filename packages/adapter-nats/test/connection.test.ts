import { LogCapture, SecretEvidence } from '@tidings/conformance';
import { type Bus, createBus, defineEvent } from '@tidings/core';
import type { ConnectionState, ConnectionStateReporter } from '@tidings/core/adapter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createNatsAdapter,
  createNatsCoreAdapter,
  type NatsAdapter,
  type NatsConnectionOptions,
} from '../src/index';
import { uniqueName } from './support/nats';
import { PrivateNatsServer } from './support/private-server';
import { Waiter } from './support/waiter';

const Ping = defineEvent({
  type: 'test.ping',
  schema: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] } as const,
});

/** The first error of a cause chain that carries a nats.js code. */
function causeCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z_]+$/.test(code) && !['CONNECTION', 'PUBLISH'].includes(code)) {
      return code;
    }
    current = current.cause;
  }
  return undefined;
}

interface Failure {
  /** What the adapter and the bus threw, logged, reported and said in health reports. */
  readonly evidence: SecretEvidence;
  readonly startError: Error;
}

/**
 * Tries every way a bus and its adapter report a connection that cannot be made: the adapter's
 * own connect and publish, its state reports, the bus's start and publish, its log lines and its
 * health report.
 */
async function failToConnect(make: () => NatsAdapter): Promise<Failure> {
  const evidence = new SecretEvidence();
  const direct = make();
  const states: { state: ConnectionState; error: Error | undefined }[] = [];
  (direct as unknown as ConnectionStateReporter).onStateChange((state, error) =>
    states.push({ state, error }),
  );
  await evidence.failure(direct.connect());
  await evidence.failure(
    direct.publish([{ topic: 't', key: undefined, headers: {}, body: Buffer.from('x') }]),
  );
  await direct.close();
  evidence.add(states);

  const bus: Bus = createBus({ source: 'test', adapter: make(), logger: evidence.logger });
  bus.subscribe(Ping, { group: 'g' }, () => undefined);
  const startError = await evidence.failure(bus.start());
  await evidence.failure(bus.publish(Ping, { n: 1 }));
  evidence.add(bus.health());
  await bus.stop();
  expect(states.map((s) => s.state)).toContain('failed');
  expect(evidence.logger.matching(/could not connect/)).toHaveLength(1);
  return { evidence, startError };
}

describe('connection errors, logs and health reports', () => {
  let withPassword: PrivateNatsServer;
  let withToken: PrivateNatsServer;

  beforeAll(async () => {
    [withPassword, withToken] = await Promise.all([
      PrivateNatsServer.start(['--user', 'tidings', '--pass', 'right-pass-1']),
      PrivateNatsServer.start(['--auth', 'right-t0ken-1']),
    ]);
  });

  afterAll(async () => {
    await Promise.all([withPassword?.dispose(), withToken?.dispose()]);
  });

  const fast: Partial<NatsConnectionOptions> = { connectTimeoutMs: 2_000, publishTimeoutMs: 1_000 };

  it('never show the password of a URL or of the options, with a closed port or a wrong password', async () => {
    const cases: { secret: string; code: string; shows: string; make: () => NatsAdapter }[] = [
      {
        secret: 's3cret-pass',
        code: 'CONNECTION_REFUSED',
        shows: 'cannot connect to NATS at nats://u:***@127.0.0.1:1',
        make: () => createNatsAdapter({ ...fast, servers: 'nats://u:s3cret-pass@127.0.0.1:1' }),
      },
      {
        secret: 's3cret-core',
        code: 'CONNECTION_REFUSED',
        shows: 'cannot connect to NATS at u:***@127.0.0.1:1',
        make: () => createNatsCoreAdapter({ ...fast, servers: 'u:s3cret-core@127.0.0.1:1' }),
      },
      {
        secret: 'wr0ng-pass-url',
        code: 'AUTHORIZATION_VIOLATION',
        shows: `cannot connect to NATS at nats://tidings:***@${withPassword.url}`,
        make: () =>
          createNatsAdapter({ ...fast, servers: `nats://tidings:wr0ng-pass-url@${withPassword.url}` }),
      },
      {
        secret: 'wr0ng-pass-option',
        code: 'AUTHORIZATION_VIOLATION',
        shows: `cannot connect to NATS at ${withPassword.url}`,
        make: () =>
          createNatsAdapter({
            ...fast,
            servers: withPassword.url,
            connectionOptions: { user: 'tidings', pass: 'wr0ng-pass-option' },
          }),
      },
    ];
    for (const { secret, code, shows, make } of cases) {
      const { evidence, startError } = await failToConnect(make);
      evidence.expectNoSecret(secret);
      // Where, and why: a closed port can be told from a wrong password.
      expect(evidence.text()).toContain(shows);
      expect(causeCode(startError), secret).toBe(code);
    }
  });

  it('never show a token, in a URL or in the options', async () => {
    for (const [secret, make] of [
      [
        'wr0ng-t0ken-url',
        () => createNatsAdapter({ ...fast, servers: `nats://wr0ng-t0ken-url@${withToken.url}` }),
      ],
      [
        'wr0ng-t0ken-option',
        () =>
          createNatsCoreAdapter({
            ...fast,
            servers: withToken.url,
            connectionOptions: { token: 'wr0ng-t0ken-option' },
          }),
      ],
    ] as const) {
      const { evidence, startError } = await failToConnect(make);
      evidence.expectNoSecret(secret);
      expect(causeCode(startError)).toBe('AUTHORIZATION_VIOLATION');
    }
  });

  it('connect with the credentials of a URL, which nats.js alone ignores', async () => {
    const byPassword = createNatsAdapter({
      ...fast,
      servers: `nats://tidings:right-pass-1@${withPassword.url}`,
      prefix: uniqueName('auth'),
    });
    const byToken = createNatsCoreAdapter({ ...fast, servers: `right-t0ken-1@${withToken.url}` });
    try {
      await byPassword.connect();
      await byToken.connect();
      expect(byPassword.state).toBe('connected');
      expect(byToken.state).toBe('connected');
    } finally {
      await byPassword.close();
      await byToken.close();
    }
  });
});

describe('connection state', () => {
  let server: PrivateNatsServer;

  beforeAll(async () => {
    server = await PrivateNatsServer.start();
  });

  afterAll(async () => {
    await server?.dispose();
  });

  it('logs "connection lost; reconnecting" once per outage and "connection restored" when the server is back', async () => {
    const logs = new LogCapture();
    const adapter = createNatsAdapter({
      servers: server.url,
      prefix: uniqueName('state'),
      publishTimeoutMs: 5_000,
      connectionOptions: { reconnectTimeWait: 100 },
    });
    const states: ConnectionState[] = [];
    (adapter as unknown as ConnectionStateReporter).onStateChange((state) => states.push(state));
    const bus = createBus({ source: 'test', adapter, logger: logs });
    const handled: number[] = [];
    const waiter = new Waiter();
    bus.subscribe(Ping, { group: 'g', startFrom: 'earliest' }, (event) => {
      handled.push(event.data.n);
      waiter.notify();
    });
    await bus.start();
    try {
      expect(adapter.state).toBe('connected');
      await server.stop();
      const [lost] = await logs.until(/^nats connection lost; reconnecting$/, 10_000);
      expect(lost!.level).toBe('warn');
      expect(adapter.state).toBe('reconnecting');
      expect(bus.health().status).toBe('down');
      await server.resume();
      const [restored] = await logs.until(/^nats connection restored$/, 15_000);
      expect(restored!.level).toBe('info');
      expect(logs.matching(/connection lost/)).toHaveLength(1);
      expect(adapter.state).toBe('connected');
      // And it works again.
      await bus.publish(Ping, { n: 1 });
      await waiter.until(
        () => handled.includes(1),
        10_000,
        () => 'the event published after the restart was not handled',
      );
    } finally {
      await bus.stop();
    }
    expect(states[0]).toBe('connecting');
    expect(states).toContain('reconnecting');
    expect(states.slice(-2)).toEqual(['connected', 'closed']);
    expect(logs.matching(/^nats connection closed$/)).toHaveLength(1);
  }, 60_000);
});
