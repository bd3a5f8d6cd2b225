import { batchEntry, createBus, defineEvent } from '@tidings/core';
import type pg from 'pg';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { createPostgresInbox, createPostgresOutbox } from '../src/index';

const PaymentCaptured = defineEvent({
  type: 'payment.captured',
  schema: z.object({ paymentId: z.string(), amount: z.number() }),
});
declare const pool: pg.Pool;
declare const client: pg.PoolClient;
const bus = createBus({ source: 'types' });

describe('types', () => {
  it('write checks the data against the contract', () => {
    const outbox = createPostgresOutbox({ pool, bus });
    void outbox.write(client, PaymentCaptured, { paymentId: 'p-1', amount: 10 });
    // @ts-expect-error: amount must be a number
    void outbox.write(client, PaymentCaptured, { paymentId: 'p-1', amount: '10' });
    // @ts-expect-error: paymentId is missing
    void outbox.writeBatch(client, [batchEntry(PaymentCaptured, { amount: 10 })]);
  });

  it('handle gives the handler the subscribed event and the transaction client', () => {
    const inbox = createPostgresInbox({ pool });
    bus.subscribe(
      PaymentCaptured,
      { group: 'ledger' },
      inbox.handle(async (event, tx, ctx) => {
        expectTypeOf(event.data).toEqualTypeOf<{ paymentId: string; amount: number }>();
        expectTypeOf(event.type).toEqualTypeOf<'payment.captured'>();
        expectTypeOf(tx).toEqualTypeOf<pg.PoolClient>();
        expectTypeOf(ctx.event).toEqualTypeOf<typeof event | undefined>();
      }),
    );
  });
});
