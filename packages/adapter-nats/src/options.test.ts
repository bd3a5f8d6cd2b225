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
    [{ extraDeliveries: 0 }, 'extraDeliveries'],
    [{ servers: ['nats://a:x@h1:4222', 'nats://a:y@h2:4222'] }, 'servers'],
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

  it('takes credentials out of the server URLs, hands them to nats.js and hides them', () => {
    const withPassword = resolveNatsOptions({ servers: ['nats://app:s3cret%40x@h1:4222', 'h2:4222'] });
    expect(withPassword.servers).toEqual(['nats://h1:4222', 'h2:4222']);
    expect(withPassword.connectionOptions).toMatchObject({ user: 'app', pass: 's3cret@x' });
    expect(withPassword.where).toBe('nats://app:***@h1:4222, h2:4222');
    expect(withPassword.redactor.text('pass s3cret@x')).toBe('pass ***');

    const withToken = resolveNatsOptions({ servers: 't0ken@h1:4222' });
    expect(withToken.servers).toBe('h1:4222');
    expect(withToken.connectionOptions).toMatchObject({ token: 't0ken' });
    expect(withToken.where).toBe('***@h1:4222');

    // Options that authenticate win over the URL; their secrets are hidden too.
    const given = resolveNatsOptions({
      servers: 'nats://u:url-pass@h:4222',
      connectionOptions: { user: 'v', pass: 'option-pass', token: 'option-token' },
    });
    expect(given.connectionOptions).toMatchObject({ user: 'v', pass: 'option-pass' });
    expect(given.redactor.text('url-pass option-pass option-token')).toBe('*** *** ***');
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
