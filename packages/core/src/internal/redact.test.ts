import { describe, expect, it } from 'vitest';
import { ConfigError, ConnectionError, ValidationError } from '../errors';
import { createRedactor, redactUrls } from './redact';

describe('redaction', () => {
  it.each([
    ['cannot connect to nats://u:s3cret-pass@127.0.0.1:1', 'cannot connect to nats://u:***@127.0.0.1:1'],
    ['redis://:s3cret@cache:6379/0', 'redis://:***@cache:6379/0'],
    ['nats://s3cret-token@host:4222', 'nats://***@host:4222'],
    ['amqp://guest:guest@mq:5672 and amqps://a:b@other', 'amqp://guest:***@mq:5672 and amqps://a:***@other'],
    ['no url here', 'no url here'],
    [
      'servers: app:s3cret@127.0.0.1:4222, b:pw@[::1]:4223',
      'servers: app:***@127.0.0.1:4222, b:***@[::1]:4223',
    ],
    ['mail me at ops@example.com', 'mail me at ops@example.com'],
    ['http://host/path@thing', 'http://host/path@thing'],
  ])('%s', (text, expected) => {
    expect(redactUrls(text)).toBe(expected);
  });

  it('removes known secrets wherever they appear, longest first', () => {
    const redact = createRedactor(['hunter2', 'hunter2-long', undefined, '']);
    expect(redact.text('password hunter2-long then hunter2')).toBe('password *** then ***');
  });

  it('learns a secret handed out later', () => {
    const redact = createRedactor();
    expect(redact.text('token abc123')).toBe('token abc123');
    redact.learn('abc123');
    expect(redact.text('token abc123')).toBe('token ***');
  });

  it('copies an error without its secrets, keeping class, code and cause', () => {
    const cause = Object.assign(new Error('WRONGPASS invalid username-password pair for hunter2'), {
      code: 'WRONGPASS',
      command: { name: 'auth', args: ['hunter2'] },
    });
    const error = new ConnectionError('cannot connect to redis://app:hunter2@cache:6379', { cause });
    const copy = createRedactor(['hunter2']).error(error);
    expect(copy).toBeInstanceOf(ConnectionError);
    expect(copy.message).toBe('cannot connect to redis://app:***@cache:6379');
    expect((copy as ConnectionError).code).toBe('CONNECTION');
    const copiedCause = copy.cause as Error & { code?: string; command?: unknown };
    expect(copiedCause.message).toBe('WRONGPASS invalid username-password pair for ***');
    expect(copiedCause.code).toBe('WRONGPASS');
    expect(copiedCause.command).toBeUndefined();
    expect(
      JSON.stringify({ m: copy.message, s: copy.stack, c: copiedCause.message, cs: copiedCause.stack }),
    ).not.toContain('hunter2');
  });

  it('turns a thrown non-error into an error without secrets', () => {
    expect(createRedactor(['pw']).error({ password: 'pw' }).message).toBe('{"password":"***"}');
  });

  it('keeps the fields of a Tidings error, redacted', () => {
    const error = new ConfigError('brokers', 'cannot parse redis://:pw@host');
    const copy = createRedactor(['pw']).error(error) as ConfigError;
    expect(copy).toBeInstanceOf(ConfigError);
    expect(copy.field).toBe('brokers');
    expect(copy.message).toBe('brokers: cannot parse redis://:***@host');
    const invalid = createRedactor().error(
      new ValidationError('t', [{ path: ['a'], message: 'bad' }], { field: 'data' }),
    );
    expect((invalid as ValidationError).issues).toEqual([{ path: ['a'], message: 'bad' }]);
  });
});
