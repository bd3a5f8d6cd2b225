import { fileURLToPath } from 'node:url';
import { runRedriveCrash, startFixtureProcess } from '@tidings/conformance';
import { afterEach, describe, it } from 'vitest';
import { createNatsAdapter, type NatsAdapter } from '../src/index';
import { deleteStream, NATS_URL, uniqueName } from './support/nats';

// 1,000 here; `npm run test:redrive-big` runs the same with 10,000 (TIDINGS_REDRIVE_LETTERS).
const LETTERS = Number(process.env.TIDINGS_REDRIVE_LETTERS ?? 1_000);
const script = fileURLToPath(new URL('./fixtures/redrive.ts', import.meta.url));

describe('a redrive killed with SIGKILL half-way and run again', () => {
  const prefix = uniqueName('trc');
  const stream = prefix.toUpperCase();
  let adapter: NatsAdapter | undefined;

  afterEach(async () => {
    await adapter?.close({ signal: AbortSignal.timeout(3_000) });
    await deleteStream(stream);
  });

  it(`ends with each of ${LETTERS} dead letters handled once by the failed group, none by the other, the store empty`, async () => {
    adapter = createNatsAdapter({ servers: NATS_URL, prefix, stream: { name: stream } });
    await adapter.connect();
    await runRedriveCrash({
      adapter,
      topic: 'orders',
      group: 'billing',
      otherGroup: 'audit',
      letters: LETTERS,
      spec: { maxAttempts: 10 },
      idHeader: 'ce-id',
      startRedrive: ({ topic, group, ratePerSecond }) =>
        startFixtureProcess(script, {
          args: [NATS_URL, prefix, stream, topic, group, String(ratePerSecond)],
        }),
      // A letter whose redelivery was stored just before the kill, and not yet deleted, is published
      // again with the same message id, which the stream's duplicate window drops: none twice.
      maxDuplicates: 0,
    });
  }, 300_000);
});
