import { AuthenticationError, MultipleErrors, NetworkError, ResponseError } from '@platformatic/kafka';
import { SecretEvidence } from '@tidings/conformance';
import { ConfigError, createRedactor, MessageTooLargeError } from '@tidings/core/adapter';
import {
  KafkaJSConnectionError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
} from 'kafkajs';
import { describe, expect, it } from 'vitest';
import {
  connectionError,
  describeKafkaError,
  isConnectionProblem,
  isPermanent,
  isRetriableCommitFailure,
  isSizeRefusal,
  publishError,
} from './errors';

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

describe('kafka error verdicts on @platformatic/kafka errors', () => {
  // The client types the error as its numeric code; its ProtocolError takes Kafka's name as well.
  const response = (name: string, serverMessage: string | null = null) =>
    new ResponseError(0, 9, { '/topics/0/partitions/0': [name as unknown as number, serverMessage] }, {});

  it('reads a size refusal, a permanent refusal and a lost connection from its error tree', () => {
    const tooLarge = new MultipleErrors('Producing failed.', [response('MESSAGE_TOO_LARGE')]);
    expect(isSizeRefusal(tooLarge)).toBe(true);
    expect(isPermanent(tooLarge)).toBe(true);
    expect(isPermanent(response('TOPIC_AUTHORIZATION_FAILED'))).toBe(true);
    const reset = new NetworkError('Connection closed', { cause: new Error('read ECONNRESET') });
    expect(isConnectionProblem(reset)).toBe(true);
    expect(isPermanent(reset)).toBe(false);
    expect(isSizeRefusal(reset)).toBe(false);
  });

  it('calls a commit retriable while the coordinator moves or the connection is lost, and not for a dropped member', () => {
    expect(isRetriableCommitFailure(response('NOT_COORDINATOR'))).toBe(true);
    expect(isRetriableCommitFailure(response('REBALANCE_IN_PROGRESS'))).toBe(true);
    expect(isRetriableCommitFailure(new NetworkError('Connection closed'))).toBe(true);
    expect(isRetriableCommitFailure(response('UNKNOWN_MEMBER_ID'))).toBe(false);
    expect(isRetriableCommitFailure(response('ILLEGAL_GENERATION'))).toBe(false);
    expect(isRetriableCommitFailure(response('GROUP_AUTHORIZATION_FAILED'))).toBe(false);
  });

  it("describes a failure by the broker's own words and the Kafka error name, or by its deepest cause", () => {
    const login = new NetworkError('Connection failed', {
      cause: new AuthenticationError('SASL authentication failed.', {
        cause: response('SASL_AUTHENTICATION_FAILED', 'Invalid username or password'),
      }),
    });
    expect(describeKafkaError(login)).toBe(
      'SASL authentication failed: Invalid username or password (SASL_AUTHENTICATION_FAILED)',
    );
    const refused = new MultipleErrors('Cannot connect to any broker.', [
      new NetworkError('Connection failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:1') }),
    ]);
    expect(describeKafkaError(refused)).toBe('connect ECONNREFUSED 127.0.0.1:1');
    expect(connectionError(refused, ['127.0.0.1:1'], createRedactor()).message).toBe(
      'kafka: cannot connect to 127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1',
    );
  });
});
