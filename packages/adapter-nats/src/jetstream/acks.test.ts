import { describe, expect, it } from 'vitest';
import { parseAckSubject } from './acks';

describe('ack subjects', () => {
  it('reads both forms the server uses', () => {
    expect(parseAckSubject('$JS.ACK.ORDERS.billing.2.1043.97.1719830400000000000.5')).toEqual({
      deliveryCount: 2,
      streamSeq: 1043,
    });
    expect(parseAckSubject('$JS.ACK.hub.ACC123.ORDERS.billing.3.7.9.1719830400000000000.0.xyz')).toEqual({
      deliveryCount: 3,
      streamSeq: 7,
    });
  });

  it('refuses anything else', () => {
    expect(parseAckSubject(undefined)).toBeUndefined();
    expect(parseAckSubject('_INBOX.abc')).toBeUndefined();
    expect(parseAckSubject('$JS.ACK.too.short')).toBeUndefined();
  });
});
