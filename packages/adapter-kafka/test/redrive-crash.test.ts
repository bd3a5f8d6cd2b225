import { fileURLToPath } from 'node:url';
import { runRedriveCrash, startFixtureProcess } from '@tidings/conformance';
import { describe, it } from 'vitest';
import { BROKERS, useKafka } from './helpers';

// 1,000 here; `npm run test:redrive-big` runs the same with 10,000 (TIDINGS_REDRIVE_LETTERS).
const LETTERS = Number(process.env.TIDINGS_REDRIVE_LETTERS ?? 1_000);

const kafka = useKafka('rd');
const script = fileURLToPath(new URL('./fixtures/redrive-process.ts', import.meta.url));
const packageDir = fileURLToPath(new URL('..', import.meta.url));

describe('a redrive killed with SIGKILL half-way and run again', () => {
  // Unordered groups are redriven through their retry topic; ordered ones (the bus's default)
  // through the original topic, addressed to the failed group, which the other group skips.
  it.each([
    ['unordered', 'none'],
    ['ordered', 'key'],
  ] as const)(
    `ends with each of ${LETTERS} dead letters of an %s group handled by it, none by the other, the store empty`,
    async (_label, ordering) => {
      const { topic, group: failed } = kafka.names(`redrive-${ordering}`);
      await runRedriveCrash({
        adapter: await kafka.adapter(),
        topic,
        group: failed,
        otherGroup: `${failed}-other`,
        letters: LETTERS,
        spec: { handlerTimeoutMs: 10_000, ordering },
        startRedrive: ({ group, ratePerSecond }) =>
          startFixtureProcess(script, {
            cwd: packageDir,
            env: {
              KAFKA_BROKER: BROKERS[0]!,
              KAFKA_TOPIC: topic,
              KAFKA_GROUP: group,
              RATE: String(ratePerSecond),
            },
          }),
        // A redriven copy and its letter's removal are one transaction: the batch the kill
        // interrupted is aborted (the next redrive's producer fences it), so none is delivered twice.
        maxDuplicates: 0,
        label: `kafka, ${ordering === 'key' ? 'ordered' : 'unordered'}`,
      });
    },
    300_000,
  );
});
