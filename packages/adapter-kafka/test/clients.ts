import { subscribe } from 'node:diagnostics_channel';
import net, { type Socket } from 'node:net';
import type { KafkaAdapterOptions, KafkaClientName } from '../src';
import { DEFAULT_CLIENT } from '../src/options';

/**
 * The client the tests run the adapter on: `KAFKA_CLIENT=kafkajs` or `KAFKA_CLIENT=platformatic`,
 * the adapter's default without it. CI runs the tests once on each (see .ci/run).
 */
export const TEST_CLIENT: KafkaClientName = testClient(process.env.KAFKA_CLIENT);

function testClient(name: string | undefined): KafkaClientName {
  if (name === undefined || name === '') return DEFAULT_CLIENT;
  if (name === 'kafkajs' || name === 'platformatic') return name;
  throw new Error(`KAFKA_CLIENT must be kafkajs or platformatic, got ${JSON.stringify(name)}`);
}

/**
 * The escape-hatch settings of the test client that make a failing connection give up after
 * `retries` more attempts, `delayMs` apart (kafkajs backs off from it, doubling up to `maxDelayMs`).
 */
export function connectionRetries(
  retries: number,
  delayMs = 50,
  maxDelayMs = delayMs,
): Pick<KafkaAdapterOptions, 'kafkajs' | 'platformatic'> {
  return TEST_CLIENT === 'kafkajs'
    ? { kafkajs: { retry: { retries, initialRetryTime: delayMs, maxRetryTime: maxDelayMs } } }
    : { platformatic: { retries, retryDelay: delayMs } };
}

/** What {@link tapSockets} gives a test: options for the adapter, and its sockets. */
export interface SocketTap {
  /** Merge these into the adapter's options: they route its connections through the tap. */
  readonly options: Pick<KafkaAdapterOptions, 'kafkajs' | 'platformatic'>;
  /** The adapter's open sockets to the brokers. */
  readonly sockets: Set<Socket>;
}

/** Connections of @platformatic/kafka clients made with a tap's marker as their context. */
const taps = new Map<object, (socket: Socket) => void>();
let listening = false;

function listenForConnections(): void {
  if (listening) return;
  listening = true;
  // @platformatic/kafka announces each connection it opens on a diagnostics channel, with the
  // `context` its client was made with: a tap knows its adapter's sockets by that.
  subscribe('tracing:plt:kafka:connections:connects:end', (message) => {
    const connection = (message as { connection?: { context?: unknown; socket?: Socket } }).connection;
    const tap = taps.get(connection?.context as object);
    if (tap !== undefined && connection?.socket !== undefined) tap(connection.socket);
  });
}

/**
 * Sees every socket an adapter opens to the brokers, on either client, so that a test can cut them
 * as a network would, or meddle with what is written (`onSocket`): kafkajs through a socket
 * factory, @platformatic/kafka through its connection diagnostics.
 */
export function tapSockets(onSocket: (socket: Socket) => void = () => undefined): SocketTap {
  const sockets = new Set<Socket>();
  const add = (socket: Socket): void => {
    if (sockets.has(socket)) return;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    onSocket(socket);
  };
  if (TEST_CLIENT === 'kafkajs') {
    const socketFactory = ({
      host,
      port,
      onConnect,
    }: {
      host: string;
      port: number;
      onConnect: () => void;
    }) => {
      const socket = net.connect({ host, port }, onConnect);
      socket.setKeepAlive(true, 60_000);
      add(socket);
      return socket;
    };
    return { options: { kafkajs: { socketFactory } }, sockets };
  }
  listenForConnections();
  const marker = {};
  taps.set(marker, add);
  return { options: { platformatic: { context: marker } }, sockets };
}

/** Resets every socket in `sockets`, as a dropped connection would. */
export function dropSockets(sockets: Set<Socket>): void {
  for (const socket of sockets) {
    socket.destroy(Object.assign(new Error('connection reset by the test'), { code: 'ECONNRESET' }));
  }
}
