import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const script = fileURLToPath(new URL('../../../tools/kafka/kafka.sh', import.meta.url));

/**
 * Starts the local Kafka broker the tests run against (tools/kafka/kafka.sh reuses one that is
 * already up), so that `npm test` works on a fresh machine. Fails the run, naming the cause, when
 * the broker cannot be started.
 */
export default async function startKafka(): Promise<void> {
  try {
    await run('bash', [script, 'start'], { timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    const output = `${stdout}\n${stderr}`.trim().split('\n').slice(-30).join('\n');
    throw new Error(
      [
        `The Kafka adapter's tests need the local Kafka broker on 127.0.0.1:${process.env.KAFKA_PORT ?? '9092'}, and it could not be started.`,
        'Start it by hand with `bash tools/kafka/kafka.sh start` (it needs Java 11+ and Maven; see tools/kafka/README.md),',
        'and look at `bash tools/kafka/kafka.sh logs` if that fails too. What kafka.sh said:',
        output,
      ].join('\n'),
      { cause: error },
    );
  }
}
