import { describe, expect, it } from 'vitest';
import { uuidv7, uuidv7Time } from './uuid';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('uuidv7', () => {
  it('has the RFC 9562 version and variant bits', () => {
    for (let i = 0; i < 1_000; i++) expect(uuidv7()).toMatch(UUID_V7);
  });

  it('embeds the current time in milliseconds', () => {
    const before = Date.now();
    const id = uuidv7();
    const after = Date.now();
    const time = uuidv7Time(id)!;
    // The counter may borrow a millisecond or two under a burst; allow for it.
    expect(time).toBeGreaterThanOrEqual(before);
    expect(time).toBeLessThanOrEqual(after + 2);
  });

  it('is strictly increasing within a process, also in bursts within one millisecond', () => {
    const ids = Array.from({ length: 50_000 }, () => uuidv7());
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('uuidv7Time rejects strings that are not UUIDv7', () => {
    expect(uuidv7Time('not-a-uuid')).toBeUndefined();
    expect(uuidv7Time('123e4567-e89b-42d3-a456-426614174000')).toBeUndefined();
  });
});
