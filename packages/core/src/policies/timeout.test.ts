import { describe, expect, it } from 'vitest';
import { testContext } from '../../test/support/contexts';
import type { MessageContext } from '../context/delivery';
import { TimeoutError } from '../errors';
import { createTimeoutGuard } from './timeout';

/** The guard around work started now, as the pipeline places it. */
function timeout(options: { ms: number }) {
  const guard = createTimeoutGuard(options.ms);
  return (ctx: MessageContext, work: () => Promise<unknown>) => guard(ctx, Date.now(), work());
}

describe('the timeout guard', () => {
  it('fails a handler that runs past its limit and aborts its signal', async () => {
    const policy = timeout({ ms: 50 });
    const ctx = testContext();
    let signalled: unknown;
    const run = policy(ctx, async () => {
      ctx.signal.addEventListener('abort', () => {
        signalled = ctx.signal.reason;
      });
      await new Promise(() => undefined);
    });
    await expect(run).rejects.toBeInstanceOf(TimeoutError);
    expect(signalled).toBeInstanceOf(TimeoutError);
    expect(ctx.signal.aborted).toBe(true);
  });

  it('aborts a signal first read after the timeout fired', async () => {
    const ctx = testContext();
    await expect(timeout({ ms: 20 })(ctx, () => new Promise(() => undefined))).rejects.toBeInstanceOf(
      TimeoutError,
    );
    expect(ctx.signal.aborted).toBe(true);
  });

  it('lets a handler within its limit finish, and forgets it', async () => {
    const policy = timeout({ ms: 1_000 });
    const ctx = testContext();
    await policy(ctx, async () => {
      await new Promise((resolve) => setTimeout(resolve, 10));
    });
    expect(ctx.signal.aborted).toBe(false);
  });

  it('passes handler errors through untouched', async () => {
    const error = new Error('handler bug');
    await expect(
      timeout({ ms: 1_000 })(testContext(), async () => {
        throw error;
      }),
    ).rejects.toBe(error);
  });

  it('watches many handlers with one timer and fires each within a tenth of the limit', async () => {
    const policy = timeout({ ms: 100 });
    const started = Date.now();
    const runs = Array.from({ length: 50 }, () =>
      policy(testContext(), () => new Promise(() => undefined)).then(
        () => 'finished',
        (error: unknown) => (error instanceof TimeoutError ? Date.now() - started : 'other error'),
      ),
    );
    const outcomes = await Promise.all(runs);
    for (const elapsed of outcomes) {
      expect(typeof elapsed).toBe('number');
      expect(elapsed as number).toBeGreaterThanOrEqual(95);
    }
  });
});
