import { ConfigError, ConnectionError, PublishError } from '@tidings/core/adapter';
import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { failureKind } from './connection';

describe('failureKind', () => {
  it('sorts what Redis says into transient, too large and permanent refusals', () => {
    const reply = (message: string) => new ReplyError(message);
    expect(failureKind(reply("OOM command not allowed when used memory > 'maxmemory'. script: x"))).toBe(
      'transient',
    );
    expect(failureKind(reply('LOADING Redis is loading the dataset in memory'))).toBe('transient');
    expect(failureKind(reply('BUSY Redis is busy running a script.'))).toBe('transient');
    expect(failureKind(reply("READONLY You can't write against a read only replica."))).toBe('transient');
    expect(failureKind(reply('MISCONF Redis is configured to save RDB snapshots'))).toBe('transient');
    expect(failureKind(reply('CLUSTERDOWN The cluster is down'))).toBe('transient');
    expect(failureKind(reply('MOVED 2573 127.0.0.1:7001'))).toBe('transient');
    expect(failureKind(reply('ERR Protocol error: invalid bulk length'))).toBe('too-large');
    expect(failureKind(reply('WRONGTYPE Operation against a key holding the wrong kind of value'))).toBe(
      'permanent',
    );
    expect(failureKind(reply("NOPERM this user has no permissions to access the 'x' key"))).toBe('permanent');
    expect(failureKind(reply('ERR syntax error'))).toBe('permanent');
  });

  it('calls no answer a connection failure, and sorts its own errors by their cause', () => {
    expect(failureKind(new Error('Connection is closed.'))).toBe('connection');
    expect(failureKind(new ConnectionError('publishing failed'))).toBe('connection');
    expect(
      failureKind(new PublishError('refused', { cause: new ReplyError('OOM command not allowed') })),
    ).toBe('transient');
    expect(failureKind(new ConfigError('deadLetter.topic', 'a topic must not be empty'))).toBe('permanent');
    expect(failureKind('not an error')).toBe('permanent');
  });
});
