import { SecretEvidence } from '@tidings/conformance';
import { ConfigError, createRedactor, MessageTooLargeError } from '@tidings/core/adapter';
import {
  KafkaJSConnectionError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
} from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { connectionError, isConnectionProblem, isPermanent, isSizeRefusal, publishError } from './errors';

/** A protocol error as kafkajs makes it from a broker's error code. */
function protocolError(type: string, retriable: boolean): Error {
  const shape = { type, code: 1, retriable, message: 'the broker refused it' };
  return new KafkaJSProtocolError(shape as unknown as Error);
}

describe('kafka error verdicts', () => {
  it('calls a refusal that sending again cannot cure permanent, and a size refusal a size refusal', () => {
    // What kafkajs's retrier throws for a non-retriable protocol error.
    const refused = protocolError('MESSAGE_TOO_LARGE', false);
    const tooLarge = Object.assign(new KafkaJSNonRetriableError(refused), { cause: refused });
    expect(isPermanent(tooLarge)).toBe(true);
    expect(isSizeRefusal(tooLarge)).toBe(true);
    expect(isSizeRefusal(protocolError('RECORD_LIST_TOO_LARGE', false))).toBe(true);
    for (const type of ['INVALID_RECORD', 'TOPIC_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED']) {
      expect(isPermanent(protocolError(type, false)), type).toBe(true);
      expect(isSizeRefusal(protocolError(type, false)), type).toBe(false);
    }
    expect(isPermanent(protocolError('SOME_FUTURE_ERROR', false))).toBe(true);
    expect(isPermanent(new ConfigError('topics', 'missing'))).toBe(true);
    expect(isPermanent(new MessageTooLargeError(2, 1))).toBe(true);
  });

  it('never calls a connection problem or retries running out on a retriable error permanent', () => {
    const refused = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED', {
      code: 'ECONNREFUSED',
    });
    const gaveUp = new KafkaJSNumberOfRetriesExceeded(refused, { retryCount: 5, retryTime: 1000 });
    expect(isConnectionProblem(gaveUp)).toBe(true);
    expect(isPermanent(gaveUp)).toBe(false);
    const leader = new KafkaJSNumberOfRetriesExceeded(protocolError('NOT_LEADER_FOR_PARTITION', true), {
      retryCount: 5,
      retryTime: 1000,
    });
    expect(isPermanent(leader)).toBe(false);
    expect(isPermanent(new Error('something else'))).toBe(false);
  });

  it('keeps the verdict on the errors it makes, whose redacted causes lost kafkajs flags', () => {
    const raw = protocolError('SOME_FUTURE_ERROR', false);
    const failure = publishError(raw, ['t'], createRedactor());
    expect(failure.message).toContain('(SOME_FUTURE_ERROR)');
    expect(isPermanent(failure)).toBe(true);
    expect(isPermanent(publishError(new KafkaJSConnectionError('reset'), ['t'], createRedactor()))).toBe(
      false,
    );
    expect(
      isSizeRefusal(publishError(protocolError('MESSAGE_TOO_LARGE', false), ['t'], createRedactor())),
    ).toBe(true);
  });

  it('redacts secrets from the message and the whole cause chain, keeping what tells failures apart', () => {
    const secret = 'pa55-w0rd-XYZ';
    const redactor = createRedactor([secret]);
    const inner = Object.assign(new Error(`auth with ${secret} refused`), {
      code: 'EAUTH',
      password: secret,
    });
    const raw = Object.assign(
      new KafkaJSNonRetriableError(new Error(`wrapped: auth with ${secret} refused`)),
      {
        cause: inner,
      },
    );
    for (const error of [connectionError(raw, ['b:9092'], redactor), publishError(raw, ['t'], redactor)]) {
      const evidence = new SecretEvidence();
      evidence.add(error);
      evidence.expectNoSecret(secret);
      expect(error.message).toContain('auth with *** refused');
      expect((error.cause as Error).name).toBe('KafkaJSNonRetriableError');
      expect(((error.cause as Error).cause as { code?: string }).code).toBe('EAUTH');
    }
  });
});
