import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'vitest';
import type { Fault } from './faulty/faulty-adapters';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const vitestBin = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');

interface JsonReport {
  testResults: {
    assertionResults: { title: string; status: 'passed' | 'failed' | 'skipped' | 'pending' }[];
  }[];
}

/** Runs the whole suite against a faulty adapter in a child vitest and returns each scenario's status. */
async function suiteAgainst(fault: Fault): Promise<Map<string, string>> {
  const dir = await mkdtemp(join(tmpdir(), 'tidings-faulty-'));
  const output = join(dir, 'report.json');
  try {
    await run(
      process.execPath,
      [vitestBin, 'run', '--root', join(here, 'faulty'), '--reporter=json', `--outputFile=${output}`],
      {
        env: { ...process.env, TIDINGS_FAULT: fault },
        timeout: 120_000,
      },
    ).catch((error: { code?: number }) => {
      // Failing scenarios are the point; only a crash of vitest itself is an error here.
      if (error.code !== 1) throw error;
    });
    const report = JSON.parse(await readFile(output, 'utf8')) as JsonReport;
    const statuses = new Map<string, string>();
    for (const file of report.testResults) {
      for (const test of file.assertionResults) statuses.set(test.title.split(':')[0]!, test.status);
    }
    return statuses;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// Each test runs the whole suite in a child vitest (27 s for the first, cold, under load): the
// limit is the child's own, not vitest's 30 s default. The children run at once: each spends most
// of its time waiting out the delivery timeouts of the scenarios its fault breaks (about 3 s of
// CPU in 15 to 25 s), so one after the other they took 80 s, side by side about the longest one.
describe.concurrent('the conformance suite catches broken adapters', { timeout: 150_000 }, () => {
  it('fails an adapter that loses records', async ({ expect }) => {
    const statuses = await suiteAgainst('lossy');
    expect(statuses.get('publish-consume-all')).toBe('failed');
    expect(statuses.get('concurrent-publishers')).toBe('failed');
    expect(statuses.get('batch-consume-all')).toBe('failed');
    expect(statuses.get('close-semantics')).toBe('passed');
  });

  it('fails an adapter that reorders the records of a key', async ({ expect }) => {
    const statuses = await suiteAgainst('reordering');
    expect(statuses.get('key-ordering')).toBe('failed');
    expect(statuses.get('fan-out')).toBe('passed');
  });

  it('fails an adapter that never redelivers', async ({ expect }) => {
    const statuses = await suiteAgainst('no-redelivery');
    expect(statuses.get('redelivery-after-failure')).toBe('failed');
    expect(statuses.get('retry-delay')).toBe('failed');
    expect(statuses.get('batch-settlement')).toBe('failed');
    expect(statuses.get('dead-letter')).toBe('passed');
  });

  it('fails an adapter that stores dead letters without saying so', async ({ expect }) => {
    const statuses = await suiteAgainst('unreported-dead-letter');
    expect(statuses.get('dead-letter')).toBe('failed');
    expect(statuses.get('dead-letter-always-lands')).toBe('failed');
    expect(statuses.get('publish-consume-all')).toBe('passed');
  });

  it('fails an adapter whose fetch ignores the prefetch it was asked for', async ({ expect }) => {
    const statuses = await suiteAgainst('one-at-a-time');
    expect(statuses.get('batch-consume-all')).toBe('failed');
    expect(statuses.get('publish-consume-all')).toBe('passed');
  });

  it('fails an adapter that runs as many handlers as records it holds', async ({ expect }) => {
    const statuses = await suiteAgainst('handlers-up-to-prefetch');
    expect(statuses.get('concurrency-within-prefetch')).toBe('failed');
    expect(statuses.get('publish-consume-all')).toBe('passed');
  });

  it('fails an adapter whose lag leaves out the records in handlers', async ({ expect }) => {
    const statuses = await suiteAgainst('lag-ignores-in-flight');
    expect(statuses.get('consumer-lag')).toBe('failed');
    expect(statuses.get('publish-consume-all')).toBe('passed');
  });
});
