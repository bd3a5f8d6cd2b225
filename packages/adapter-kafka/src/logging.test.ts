import { logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createAdapterLog, type KafkaLogEntry, kafkajsLogCreator, kafkajsLogLevel } from './logging';

describe('logging', () => {
  it('silences kafkajs unless a logger is given', () => {
    expect(kafkajsLogLevel(undefined, 'debug')).toBe(logLevel.NOTHING);
    expect(kafkajsLogLevel(() => undefined, 'warn')).toBe(logLevel.WARN);
  });

  it('passes kafkajs entries on, without the warnings the adapter answers for', () => {
    const seen: KafkaLogEntry[] = [];
    const log = kafkajsLogCreator((entry) => seen.push(entry))(logLevel.WARN);
    const entry = (message: string) => ({
      namespace: 'Consumer',
      level: logLevel.WARN,
      label: 'WARN',
      log: { timestamp: 'now', message, groupId: 'g' },
    });
    log(entry('Consumer group rebalancing'));
    log(entry('Limiting retries for the idempotent producer may invalidate EoS guarantees'));
    expect(seen).toEqual([
      {
        level: 'warn',
        message: 'Consumer group rebalancing',
        namespace: 'Consumer',
        fields: { groupId: 'g' },
      },
    ]);
  });

  it('filters by level, and survives a logger that throws', () => {
    const seen: string[] = [];
    const log = createAdapterLog((entry) => {
      seen.push(entry.level);
      if (entry.level === 'error') throw new Error('logger broke');
    }, 'warn');
    log.log('info', 'not shown');
    log.log('warn', 'shown');
    expect(() => log.log('error', 'shown too')).not.toThrow();
    expect(seen).toEqual(['warn', 'error']);
    expect(log.enabled('debug')).toBe(false);
  });
});
