import { describe, expect, it } from 'vitest';
import { addressedGroup, addressTo, REDRIVE_GROUP_HEADER, recordForGroup } from './redrive';

describe('redrive addressing', () => {
  const letter = { ce_id: 'e-1', 'tidings-attempt': '3', 'tidings-dlq-reason': 'x', 'x-app': 'kept' };

  it('addresses a copy to one group, without the failure metadata', () => {
    const headers = addressTo(letter, 'billing');
    expect({ ...headers }).toEqual({ ce_id: 'e-1', 'x-app': 'kept', [REDRIVE_GROUP_HEADER]: 'billing' });
    expect(REDRIVE_GROUP_HEADER).toBe('tidings-redrive-group');
    expect(addressedGroup(headers)).toBe('billing');
    expect(addressedGroup(letter)).toBeUndefined();
  });

  it('hands the addressed group the record without the address, and no other group anything', () => {
    const record = { topic: 't', position: 't/0@1', headers: addressTo(letter, 'billing') };
    const own = recordForGroup(record, 'billing');
    expect(own).toMatchObject({ topic: 't', position: 't/0@1' });
    expect({ ...own!.headers }).toEqual({ ce_id: 'e-1', 'x-app': 'kept' });
    expect(recordForGroup(record, 'audit')).toBeUndefined();
    const plain = { topic: 't', headers: { ce_id: 'e-2' } };
    expect(recordForGroup(plain, 'audit')).toBe(plain);
  });
});
