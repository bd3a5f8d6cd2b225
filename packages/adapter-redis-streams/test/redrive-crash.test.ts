import { runRedriveCrash } from '@tidings/conformance';
import { afterEach, describe, it } from 'vitest';
import { createRedisStreamsAdapter, type RedisStreamsAdapter } from '../src';
import { runFixture } from './child';
import { deleteKeysMatching, REDIS_URL, uniqueName } from './redis';

// 1,000 here; `npm run test:redrive-big` runs the same with 10,000 (TIDINGS_REDRIVE_LETTERS).
const LETTERS = Number(process.env.TIDINGS_REDRIVE_LETTERS ?? 1_000);

describe('a redrive killed with SIGKILL half-way and run again', () => {
  let adapter: RedisStreamsAdapter | undefined;
  const made: string[] = [];

  afterEach(async () => {
    await adapter?.close({ signal: AbortSignal.timeout(2_000) });
    for (const name of made.splice(0)) await deleteKeysMatching(`*${name}*`);
  });

  it(`ends with each of ${LETTERS} dead letters handled once by the failed group, none by the other, the store empty`, async () => {
    const topic = uniqueName('redrive-crash');
    made.push(topic);
    adapter = createRedisStreamsAdapter({ connection: REDIS_URL });
    await runRedriveCrash({
      adapter,
      topic,
      group: `${topic}-failed`,
      otherGroup: `${topic}-other`,
      letters: LETTERS,
      timeoutMs: 60_000,
      startRedrive: ({ group, ratePerSecond }) =>
        runFixture('redrive.ts', [REDIS_URL, topic, group, String(ratePerSecond)]),
      // Each dead letter leaves the store in the script that hands its original back to the group,
      // so even a kill leaves none delivered twice.
      maxDuplicates: 0,
    });
  }, 300_000);
});
