import { describe, expect, it } from 'vitest';
import { letterId, parseLetterId } from './ledger';

describe('dead letter ids', () => {
  it('are <partition>:<offset>, and nothing else parses', () => {
    expect(letterId(2, 17)).toBe('2:17');
    expect(parseLetterId('2:17')).toEqual({ partition: 2, offset: 17 });
    for (const bad of ['', '2', '2:', ':1', '-1:2', '1:2:3', '1719830400000-0', 'a:1']) {
      expect(parseLetterId(bad)).toBeUndefined();
    }
  });
});
