import zlib from 'node:zlib';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { javaPartitioner, platformaticProducers } from './producer';

describe('platformatic producers', () => {
  it('place a keyed record where kafkajs (and the Java client) would, and key-less ones round-robin', () => {
    const kafkajsPlaces = kafkajs.Partitioners.DefaultPartitioner();
    const partitionMetadata = Array.from({ length: 6 }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [0],
      isr: [0],
    }));
    const place = javaPartitioner();
    for (let i = 0; i < 500; i++) {
      const key = Buffer.from(`key-${i}-ü`);
      const expected = kafkajsPlaces({ topic: 't', partitionMetadata, message: { key, value: null } });
      expect(place({ topic: 't', key }, key) % 6).toBe(expected);
    }
    const keyless = Array.from({ length: 4 }, () => place({ topic: 'u' }, undefined));
    expect(keyless).toEqual([0, 1, 2, 3]);
    expect(place({ topic: 'v' }, undefined)).toBe(0);
  });

  it('say honestly which codecs this Node has: zstd only where zlib has it', () => {
    const producers = platformaticProducers(
      { clientId: 'x', bootstrapBrokers: ['127.0.0.1:1'] },
      { lost() {} },
    );
    for (const codec of ['none', 'gzip', 'snappy', 'lz4'] as const) {
      expect(producers.compressionAvailable(codec)).toBe(true);
    }
    const zstd = typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function';
    expect(producers.compressionAvailable('zstd')).toBe(zstd);
  });
});
