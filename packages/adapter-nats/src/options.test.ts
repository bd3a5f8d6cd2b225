import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  defaultStreamName,
  type NatsStreamOptions,
  resolveNatsCoreOptions,
  resolveNatsOptions,
} from './options';

describe('JetStream adapter options', () => {
  it('fills in sane defaults', () => {
    const resolved = resolveNatsOptions({});
    expect(resolved).toMatchObject({
      servers: '127.0.0.1:4222',
      prefix: 'tidings',
      partitions: 8,
      partitionsGiven: false,
      ackWaitMs: 30_000,
      extraDeliveries: 5,
      maxAckPending: 1_000,
      maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
    });
    expect(resolved.stream).toMatchObject({
      name: 'TIDINGS',
      create: true,
      storage: 'file',
      retention: 'limits',
      maxAgeMs: 7 * 24 * 3600_000,
      discard: 'old',
      duplicateWindowMs: 120_000,
    });
  });

  it('keeps a default when an option is given as undefined (from plain JavaScript)', () => {
    const stream = { storage: undefined } as unknown as NatsStreamOptions;
    expect(resolveNatsOptions({ stream }).stream.storage).toBe('file');
  });

  it.each([
    [{ prefix: 'a b' }, 'prefix'],
    [{ prefix: 'a.>' }, 'prefix'],
    [{ servers: [] }, 'servers'],
    [{ partitions: 0 }, 'partitions'],
    [{ ackWaitMs: 10 }, 'ackWaitMs'],
    [{ extraDeliveries: -1 }, 'extraDeliveries'],
    [{ stream: { name: 'has.dot' } }, 'stream.name'],
    [{ stream: { retention: 'workqueue' as never } }, 'stream.retention'],
    [{ stream: { maxBytes: -2 } }, 'stream.maxBytes'],
    [{ maxMessageBytes: 0 }, 'maxMessageBytes'],
  ])('refuses %o, naming %s', (options, field) => {
    expect(() => resolveNatsOptions(options)).toThrow(expect.objectContaining({ code: 'CONFIG', field }));
  });

  it('allows unlimited extra deliveries', () => {
    expect(resolveNatsOptions({ extraDeliveries: Number.POSITIVE_INFINITY }).extraDeliveries).toBe(
      Number.POSITIVE_INFINITY,
    );
  });

  it('derives the stream name from the prefix', () => {
    expect(defaultStreamName('acme.events-v2')).toBe('ACME_EVENTS-V2');
  });
});

describe('core adapter options', () => {
  it('keeps its traffic apart from the JetStream stream by default', () => {
    expect(resolveNatsCoreOptions({}).prefix).toBe('tidings-core');
    expect(() => resolveNatsCoreOptions({ maxBufferedRecords: 0 })).toThrow(
      expect.objectContaining({ field: 'maxBufferedRecords' }),
    );
  });
});
