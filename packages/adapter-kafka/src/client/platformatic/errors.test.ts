import {
  AuthenticationError,
  MultipleErrors,
  NetworkError,
  ProtocolError,
  ResponseError,
  UserError,
} from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import {
  groupRefusals,
  isAuthenticationFailure,
  isConnectionProblem,
  isPermanent,
  kafkaErrorNames,
  topicNotServed,
} from './errors';

// The client's own error classes, nested the way its retry loops and responses nest them.
const retried = (...errors: Error[]) => new MultipleErrors('Cannot connect to any broker.', errors);

describe('platformatic error classification', () => {
  it('finds Kafka error names anywhere in `errors` and `cause`', () => {
    const error = retried(new NetworkError('reset', { cause: new ProtocolError('NOT_COORDINATOR') }));
    expect(kafkaErrorNames(error)).toEqual(['NOT_COORDINATOR']);
  });

  it('lets a refused login win over the network error around it', () => {
    const error = new NetworkError('Connection failed', {
      cause: new AuthenticationError('SASL authentication failed.'),
    });
    expect(isAuthenticationFailure(error)).toBe(true);
    expect(isConnectionProblem(error)).toBe(false);
    expect(isPermanent(error)).toBe(true);
    expect(
      isPermanent(retried(new NetworkError('x', { cause: new ProtocolError('SASL_AUTHENTICATION_FAILED') }))),
    ).toBe(true);
  });

  it('calls a network failure retriable, and a refusal no retry cures permanent', () => {
    expect(isConnectionProblem(retried(new NetworkError('ECONNREFUSED')))).toBe(true);
    expect(isPermanent(retried(new NetworkError('ECONNREFUSED')))).toBe(false);
    expect(isPermanent(new ProtocolError('MESSAGE_TOO_LARGE'))).toBe(true);
    expect(isPermanent(retried(new ProtocolError('TOPIC_AUTHORIZATION_FAILED')))).toBe(true);
    expect(isPermanent(retried(new ProtocolError('NOT_LEADER_OR_FOLLOWER')))).toBe(false);
  });

  it('tells a topic the broker does not serve, by the broker or by the client', () => {
    expect(topicNotServed(retried(new ProtocolError('LEADER_NOT_AVAILABLE')))).toBe('LEADER_NOT_AVAILABLE');
    expect(topicNotServed(new UserError('Unknown topic orders.'))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect(topicNotServed(retried(new NetworkError('reset')))).toBeUndefined();
  });

  it('maps each refused group of a DeleteGroups response to its Kafka error name', () => {
    const response = {
      results: [
        { groupId: 'a', errorCode: 68 },
        { groupId: 'b', errorCode: 0 },
        { groupId: 'c', errorCode: 69 },
      ],
    };
    const error = retried(
      new ResponseError(42, 2, { '/results/0': [68, null], '/results/2': [69, null] }, response),
    );
    expect(groupRefusals(error)).toEqual(
      new Map([
        ['a', 'NON_EMPTY_GROUP'],
        ['c', 'GROUP_ID_NOT_FOUND'],
      ]),
    );
    expect(groupRefusals(retried(new NetworkError('reset'))).size).toBe(0);
  });
});
