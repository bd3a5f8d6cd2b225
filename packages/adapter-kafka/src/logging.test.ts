import { inspect } from 'node:util';
import { createRedactor } from '@tidings/core/adapter';
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

  it('never passes a secret on, from kafkajs entries or its own', () => {
    const secret = 'pa55-w0rd-XYZ';
    const redactor = createRedactor([secret]);
    const seen: KafkaLogEntry[] = [];
    const bridge = kafkajsLogCreator((entry) => seen.push(entry), redactor)(logLevel.DEBUG);
    // What a custom SASL mechanism or a broker's answer might put in kafkajs's log.
    bridge({
      namespace: 'Connection',
      level: logLevel.ERROR,
      label: 'ERROR',
      log: {
        timestamp: 'now',
        message: `SASL failed for app:${secret}`,
        broker: 'kafka://app:other-secret@b:9092',
        error: new Error(`refused ${secret}`),
        nested: { request: { password: secret }, list: [secret] },
      },
    });
    const own = createAdapterLog((entry) => seen.push(entry), 'debug', redactor);
    own.log('error', `publishing failed: ${secret}`, { error: `cause ${secret}` });
    const text = inspect(seen, { depth: 10, showHidden: true });
    expect(text).not.toContain(secret);
    expect(text).not.toContain('other-secret');
    expect(seen[0]!.message).toBe('SASL failed for app:***');
    expect(seen[0]!.fields.nested).toEqual({ request: { password: '***' }, list: ['***'] });
    expect(seen[1]!.fields.error).toBe('cause ***');
  });
});
