import { describe, expect, it } from 'vitest';
import { runQuickstart } from './main';

describe('quickstart example', () => {
  it('emails, counts and dead-letters as it says', async () => {
    const lines: string[] = [];
    const report = await runQuickstart((line) => lines.push(line));
    expect([...report.emailsSent].sort()).toEqual(['order-1', 'order-2', 'order-3']);
    expect(report.revenueCents).toBe(7548);
    expect(report.deadLetters).toEqual([
      { orderId: 'order-4', reason: 'NonRetryableError: provider refuses mallory@blocked.example' },
    ]);
    // order-3 failed once and was retried.
    expect(report.emailAttempts).toBe(5);
    expect(lines.some((line) => line.includes('sent confirmation for order-3 (attempt 2)'))).toBe(true);
    expect(lines.at(-1)).toBe('health     "up"');
  });
});
