/**
 * A cluster's nodes, taken in turn: amqplib's recovering connection reconnects to one address, so
 * for a list the adapter gives it a connection object whose fields are those of the current node,
 * and moves to the next node each time amqplib asks how long to wait before trying again.
 *
 * @module
 */
import type { Options } from 'amqplib';
import type { AmqpAddress, ReconnectOptions } from './options';

/** Delay jitter, as amqplib's own backoff: ±20 %. */
const JITTER = 0.2;

/**
 * amqplib's connection fields for an AMQP URL, read as amqplib reads a URL string: host without
 * brackets, login (guest/guest when the URL names none), virtual host still escaped (amqplib
 * unescapes it for both forms), and the `frameMax`, `channelMax`, `heartbeat`, `locale` and
 * `maxFrameSize` query parameters.
 */
export function connectFields(address: AmqpAddress): Options.Connect {
  if (typeof address !== 'string') return address;
  const url = new URL(address);
  const fields: Options.Connect = {
    protocol: url.protocol.slice(0, -1),
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
  };
  if (url.port !== '') fields.port = Number(url.port);
  if (url.username !== '' || url.password !== '') {
    fields.username = decoded(url.username);
    fields.password = decoded(url.password);
  }
  if (url.pathname.length > 1) fields.vhost = url.pathname.slice(1);
  const query = url.searchParams;
  const locale = query.get('locale');
  if (locale !== null) fields.locale = locale;
  for (const name of ['frameMax', 'channelMax', 'heartbeat', 'maxFrameSize'] as const) {
    const value = query.get(name);
    if (value !== null) fields[name] = Number.parseInt(value, 10);
  }
  return fields;
}

/** Percent-decoded, or as written when it is not valid percent-encoding. */
function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * The nodes of a cluster in turn. {@link NodeRotation.target} is the connection object amqplib
 * reads on every (re)connection attempt; {@link NodeRotation.delayBefore} is its `calculateDelay`:
 * it moves to the next node, and waits `initialDelayMs` between nodes of the first round, then
 * twice as long after each full round, up to `maxDelayMs`.
 *
 * @example
 * ```ts fragment
 * const nodes = new NodeRotation(['amqp://rabbit-1', 'amqp://rabbit-2'], { initialDelayMs: 100, maxDelayMs: 10_000 });
 * connect(nodes.target, { recovery: { calculateDelay: (attempt) => nodes.delayBefore(attempt) } });
 * ```
 */
export class NodeRotation {
  private readonly fields: readonly Options.Connect[];
  private index = 0;
  /** What amqplib connects with: reads the current node's fields. */
  readonly target: Options.Connect;

  constructor(
    readonly addresses: readonly AmqpAddress[],
    private readonly reconnect: Required<ReconnectOptions>,
  ) {
    this.fields = addresses.map(connectFields);
    // A proxy rather than a copy: amqplib keeps the object it was given and reads its fields
    // again at each attempt, whichever fields a later amqplib reads.
    this.target = new Proxy({} as Options.Connect, {
      get: (_, key) => (this.current as Record<string | symbol, unknown>)[key],
      has: (_, key) => key in this.current,
      ownKeys: () => Reflect.ownKeys(this.current),
      getOwnPropertyDescriptor: (_, key) => {
        const descriptor = Reflect.getOwnPropertyDescriptor(this.current, key);
        return descriptor === undefined ? undefined : { ...descriptor, configurable: true };
      },
    });
  }

  /** The node the next (or the open) connection is to. */
  get current(): Options.Connect {
    return this.fields[this.index]!;
  }

  /** The current node's address, as given (to describe it, redacted). */
  get currentAddress(): AmqpAddress {
    return this.addresses[this.index]!;
  }

  /**
   * Moves to the next node and says how long to wait before connecting to it; `attempt` counts
   * from 1 since the last connection that opened.
   */
  delayBefore(attempt: number): number {
    this.index = (this.index + 1) % this.fields.length;
    const round = Math.ceil(attempt / this.fields.length);
    const { initialDelayMs, maxDelayMs } = this.reconnect;
    // The base is capped below maxDelayMs so that base plus jitter never passes it.
    const base = Math.min(maxDelayMs / (1 + JITTER), initialDelayMs * 2 ** (round - 1));
    return Math.max(0, Math.round(base + base * JITTER * (Math.random() * 2 - 1)));
  }
}
