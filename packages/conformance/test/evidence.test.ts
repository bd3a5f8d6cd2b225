import { createBus } from '@tidings/core';
import { describe, expect, it } from 'vitest';
import { LogCapture, SecretEvidence } from '../src/index';

describe('test helpers for adapter authors', () => {
  it('SecretEvidence finds a secret anywhere: a cause, a hidden property, a log field', async () => {
    const found = (item: unknown) => {
      const evidence = new SecretEvidence();
      evidence.add(item);
      return () => evidence.expectNoSecret('s3cret#1');
    };
    expect(found(new Error('outer', { cause: new Error('inner s3cret#1') }))).toThrow();
    expect(
      found(Object.defineProperty(new Error('x'), 'hidden', { value: 's3cret#1', enumerable: false })),
    ).toThrow();
    expect(found({ url: 'nats://u:s3cret%231@host' })).toThrow();
    expect(found(new Error('nothing here'))).not.toThrow();
    const evidence = new SecretEvidence();
    evidence.logger.warn({ password: 's3cret#1' }, 'a line');
    expect(() => evidence.expectNoSecret('s3cret#1')).toThrow();
  });

  it('LogCapture waits for the lines a bus writes', async () => {
    const logs = new LogCapture();
    const bus = createBus({ source: 'test', logger: logs });
    const started = logs.until(/bus started on memory/, 2_000);
    await bus.start();
    expect((await started)[0]!.level).toBe('info');
    await bus.stop();
    await expect(logs.until(/never/, 20)).rejects.toThrow(/bus stopped/);
  });
});
