import { fileURLToPath } from 'node:url';
import { runRedriveCrash, startFixtureProcess } from '@tidings/conformance';
import { describe, it } from 'vitest';
import { RABBITMQ_URL } from './support/broker';
import { useBroker } from './support/fixture';

// 1,000 here; `npm run test:redrive-big` runs the same with 10,000 (TIDINGS_REDRIVE_LETTERS).
const LETTERS = Number(process.env.TIDINGS_REDRIVE_LETTERS ?? 1_000);
// Every page is a pass over the dead-letter queue: larger batches when there are more letters.
const BATCH = Math.max(50, Math.floor(LETTERS / 20));
const script = fileURLToPath(new URL('./fixtures/redrive.ts', import.meta.url));

describe('a redrive killed with SIGKILL half-way and run again', () => {
  const broker = useBroker('redrive-crash');

  it(`ends with each of ${LETTERS} dead letters handled by the failed group, none by the other, the store empty`, async () => {
    await runRedriveCrash({
      adapter: await broker.adapter(),
      topic: 'redrive-crash',
      group: 'failed',
      otherGroup: 'other',
      letters: LETTERS,
      spec: { startFrom: 'latest' },
      idHeader: 'x-event-id',
      label: `in batches of ${BATCH}`,
      startRedrive: ({ topic, group, ratePerSecond }) =>
        startFixtureProcess(script, {
          args: [RABBITMQ_URL, broker.exchange, topic, group, String(ratePerSecond), String(BATCH)],
        }),
      // A letter whose copy was confirmed but whose removal the kill cut off is redriven twice:
      // at most the batch in flight at the kill.
      maxDuplicates: BATCH,
    });
  }, 600_000);
});
