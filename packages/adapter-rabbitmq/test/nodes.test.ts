import { freePort } from '@tidings/conformance';
import type { ConnectionState, IncomingRecord } from '@tidings/core/adapter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRabbitMQAdapter, type RabbitMQAdapter } from '../src/index';
import { PrivateNode } from './support/private-node';

// Several nodes in `url`: two private nodes (not clustered: what is tested is where the adapter
// connects, which a cluster would hide) behind an address where nothing listens.
describe('a list of nodes', () => {
  let first: PrivateNode;
  let second: PrivateNode;
  let closed: string;
  const opened: RabbitMQAdapter[] = [];

  beforeAll(async () => {
    // No `skip` when a node cannot start: the test fails, saying why (see PrivateNode.start).
    [first, second] = await Promise.all([PrivateNode.start('nodes-a'), PrivateNode.start('nodes-b')]);
    closed = `amqp://guest:guest@127.0.0.1:${await freePort()}`;
  }, 90_000);

  afterAll(async () => {
    await Promise.allSettled(opened.map((a) => a.close({ signal: AbortSignal.timeout(5_000) })));
    await Promise.allSettled([first?.stop(), second?.stop()]);
  }, 90_000);

  /** Connections of the node whose connection_name starts with `name`. */
  async function connectionsOn(node: PrivateNode, name: string): Promise<number> {
    const listing = await node.ctl('-q', 'list_connections', '--no-table-headers', 'client_properties');
    return listing.split('\n').filter((line) => line.includes(`{"connection_name","${name}`)).length;
  }

  /** Waits until `queue` has a consumer on `node`. */
  async function consuming(node: PrivateNode, queue: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const listing = await node.ctl('-q', 'list_queues', '--no-table-headers', 'name', 'consumers');
      if (listing.split('\n').some((line) => line === `${queue}\t1`)) return;
      if (Date.now() > deadline) throw new Error(`no consumer on ${queue} of ${node.name}:\n${listing}`);
      // Polling: the broker announces a new consumer nowhere a test could wait on.
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  it('connects to the first node that answers, and to the next one when its node stops', async () => {
    const name = `nodes-${Date.now().toString(36)}`;
    const adapter = createRabbitMQAdapter({
      url: [closed, first.url, second.url],
      connectionName: name,
      exchange: name,
      reconnect: { initialDelayMs: 50, maxDelayMs: 1_000 },
      publishTimeoutMs: 30_000,
      management: false,
    });
    opened.push(adapter);
    const states: ConnectionState[] = [];
    adapter.onStateChange((state) => states.push(state));
    const handled: string[] = [];
    let arrived: (() => void) | undefined;
    const subscription = await adapter.subscribe(
      {
        group: 'g',
        topics: ['t'],
        concurrency: 1,
        prefetch: 1,
        ordering: 'none',
        startFrom: 'latest',
        maxAttempts: 3,
        handlerTimeoutMs: 10_000,
      },
      async (record: IncomingRecord) => {
        handled.push(Buffer.from(record.body).toString());
        arrived?.();
        return { type: 'ack' };
      },
    );
    const publishAndSee = async (body: string) => {
      const seen = new Promise<void>((resolve) => {
        arrived = () => handled.includes(body) && resolve();
      });
      await adapter.publish([{ topic: 't', key: 'k', headers: {}, body: Buffer.from(body) }]);
      await seen;
    };

    await publishAndSee('before');
    expect(await connectionsOn(first, name)).toBe(2);
    expect(await connectionsOn(second, name)).toBe(0);

    // A broker that shuts down closes its connections; the adapter reconnects to the next node,
    // where the subscription declares its queues again.
    await first.ctl('stop_app');
    // Published once the subscription consumes on the second node: before, no queue would be
    // bound there for the record, and a mandatory publish would be refused.
    await consuming(second, `${name}/g/t`);
    await publishAndSee('after');
    expect(await connectionsOn(second, name)).toBe(2);
    expect(states).toContain('reconnecting');
    expect(adapter.state).toBe('connected');
    expect(handled).toEqual(['before', 'after']);
    await subscription.close();
    await first.ctl('start_app');
  }, 90_000);

  it('names every node, none with its password, when none answers', async () => {
    const ports = [await freePort(), await freePort()];
    const adapter = createRabbitMQAdapter({
      url: ports.map((port) => `amqp://app:n0de-secret@127.0.0.1:${port}`),
      connectTimeoutMs: 1_000,
      management: false,
    });
    opened.push(adapter);
    const error = await adapter.connect().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(
      new RegExp(
        `cannot reach RabbitMQ at amqp://app:\\*\\*\\*@127\\.0\\.0\\.1:${ports[0]}, amqp://app:\\*\\*\\*@127\\.0\\.0\\.1:${ports[1]} within 1000 ms`,
      ),
    );
    expect(
      JSON.stringify({ message: error?.message, stack: error?.stack, cause: String(error?.cause) }),
    ).not.toContain('n0de-secret');
  }, 30_000);
});
