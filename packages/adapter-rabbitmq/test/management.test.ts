import { createServer, type Server, type Socket } from 'node:net';
import { Collector, freePort } from '@tidings/conformance';
import type { BrokerAdapter, GroupAdmin, GroupDescription, Settlement } from '@tidings/core/adapter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRabbitMQAdapter, type RabbitMQAdapter, type RabbitMQAdapterOptions } from '../src/index';
import { useBroker } from './support/fixture';
import { PrivateNode } from './support/private-node';

type Admin = BrokerAdapter & GroupAdmin;

/**
 * Asks for the groups of `topic` until `check` holds. The management plugin counts on its own
 * schedule (its figures trail the queue by about 5 s here), so this polls; the timeout is a
 * safety net.
 */
async function groupsReach(
  admin: GroupAdmin,
  topic: string,
  check: (groups: readonly GroupDescription[]) => boolean,
  timeoutMs = 15_000,
): Promise<readonly GroupDescription[]> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const groups = await admin.describeGroups([topic]);
    if (check(groups)) return groups;
    if (performance.now() > deadline)
      throw new Error(`the groups of ${topic} stayed at ${JSON.stringify(groups)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Subscribes `group` with a handler that holds every record until `release` is called. */
async function holding(adapter: BrokerAdapter, topic: string, group: string, concurrency: number) {
  const seen = new Collector();
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const subscription = await adapter.subscribe(
    {
      group,
      topics: [topic],
      concurrency,
      prefetch: concurrency,
      ordering: 'none',
      startFrom: 'latest',
      maxAttempts: 5,
      handlerTimeoutMs: 60_000,
    },
    seen.handler('holder', async (): Promise<Settlement> => {
      await released;
      return { type: 'ack' };
    }),
  );
  return { seen, release, subscription };
}

function records(topic: string, count: number) {
  return Array.from({ length: count }, (_, i) => ({
    topic,
    key: `k-${i}`,
    headers: {},
    body: Buffer.from(`r-${i}`),
  }));
}

describe('describeGroups with a real management API', () => {
  let node: PrivateNode;
  const opened: BrokerAdapter[] = [];

  beforeAll(async () => {
    // No `skip` when it cannot start: the test fails, saying why (see PrivateNode.start).
    node = await PrivateNode.start('mgmt', { management: true });
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled(opened.map((a) => a.close({ signal: AbortSignal.timeout(5_000) })));
    await node?.stop();
  }, 60_000);

  async function adapterOn(options: RabbitMQAdapterOptions): Promise<RabbitMQAdapter> {
    const adapter = createRabbitMQAdapter({ url: node.url, exchange: 'mgmt', ...options });
    opened.push(adapter);
    await adapter.connect();
    return adapter;
  }

  it('reports the delivered, unacknowledged records as pending, and ready + unacked as lag', async () => {
    const topic = 'mgmt.held';
    // The API's own URL, without a login: the AMQP URL's guest/guest goes with it.
    const adapter = await adapterOn({
      connectionName: 'mgmt worker',
      management: { url: node.managementUrl },
    });
    const { seen, release } = await holding(adapter, topic, 'holders', 5);
    await adapter.publish(records(topic, 8));
    await seen.untilDistinct(5, 10_000);

    const admin = await adapterOn({ connectionName: 'mgmt admin', management: { url: node.managementUrl } });
    const [held] = await groupsReach(admin, topic, (gs) => gs[0]?.pending === 5);
    expect(held).toEqual({ topic, group: 'holders', lag: 8, pending: 5, members: 1, state: 'active' });

    // The same broker, the API turned off: AMQP's figures, the ready records alone.
    const amqpOnly = await adapterOn({ connectionName: 'mgmt amqp-only', management: false });
    expect(await amqpOnly.describeGroups([topic])).toEqual([
      { topic, group: 'holders', lag: 3, pending: undefined, members: 1, state: 'active' },
    ]);

    // A wrong password: the API refuses (401), the adapter falls back and names no password.
    const refused = await adapterOn({
      connectionName: 'mgmt refused',
      management: { url: `http://guest:wrong-secret-pw@127.0.0.1:${node.managementPort}` },
    });
    const fallback = await refused.describeGroups([topic]);
    expect(fallback).toEqual([
      { topic, group: 'holders', lag: 3, pending: undefined, members: 1, state: 'active' },
    ]);
    expect(JSON.stringify(fallback)).not.toContain('wrong-secret-pw');

    // Settled, the counts go back to zero: the figure follows the broker, it is not a constant.
    release();
    await seen.untilDistinct(8, 10_000);
    await groupsReach(admin, topic, (gs) => gs[0]?.pending === 0 && gs[0]?.lag === 0);
  }, 45_000);
});

describe('describeGroups without a management API', () => {
  const broker = useBroker('mgmt-absent');
  let blackHole: Server | undefined;
  const sockets: Socket[] = [];

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => (blackHole ? blackHole.close(resolve) : resolve(undefined)));
  });

  it('falls back to AMQP figures when the port is closed', async () => {
    const topic = 'absent.closed';
    const worker = await broker.adapter('worker');
    const { seen, release } = await holding(worker, topic, 'g', 2);
    await worker.publish(records(topic, 3));
    await seen.untilDistinct(2, 10_000);
    const closed = await freePort();
    const admin = (await broker.adapter('closed', {
      management: { url: `http://127.0.0.1:${closed}` },
    })) as Admin;
    expect(await admin.describeGroups([topic])).toEqual([
      { topic, group: 'g', lag: 1, pending: undefined, members: 1, state: 'active' },
    ]);
    release();
    await seen.untilDistinct(3, 10_000);
  });

  it('waits on an API that does not answer once, then leaves it alone', async () => {
    const topic = 'absent.silent';
    // Accepts connections and never answers: the worst case, a request that runs into its timeout.
    // Requests, not connections, are counted: after an aborted request undici opens a fresh
    // connection to the origin on its own, without sending anything on it.
    let requests = 0;
    blackHole = createServer((socket) => {
      sockets.push(socket);
      socket.on('data', (chunk: Buffer) => {
        requests += chunk.toString('latin1').split('GET /api/queues/').length - 1;
      });
    });
    await new Promise<void>((resolve) => blackHole!.listen(0, '127.0.0.1', resolve));
    const { port } = blackHole.address() as { port: number };
    const worker = await broker.adapter('silent-worker');
    await worker.subscribe(broker.spec('g', [topic]), new Collector().handler('w'));
    const admin = (await broker.adapter('silent', {
      management: { url: `http://127.0.0.1:${port}`, timeoutMs: 1_000 },
    })) as Admin;

    let started = performance.now();
    const first = await admin.describeGroups([topic]);
    const firstMs = performance.now() - started;
    expect(first).toEqual([{ topic, group: 'g', lag: 0, pending: undefined, members: 1, state: 'active' }]);
    expect(firstMs).toBeGreaterThanOrEqual(900);
    expect(requests).toBe(1);

    started = performance.now();
    const second = await admin.describeGroups([topic]);
    const secondMs = performance.now() - started;
    expect(second).toEqual(first);
    // Not asked again: no new request, and none of the timeout.
    expect(requests).toBe(1);
    expect(secondMs).toBeLessThan(500);
  });
});
