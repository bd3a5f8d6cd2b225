// Runs every benchmark, writes bench/results/latest.json and regenerates docs/benchmarks.md.
//   npm run bench                 the full run
//   npm run bench -- --quick      a short run (CI prints it; nothing is asserted against a clock)
//   npm run bench -- --only memory,kafka
// It measures the built packages (dist), as users run them: `npm run bench` builds first.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFigures } from '../tools/bench-figures';
import { machineInfo } from './lib/machine';
import type { BenchOptions, BenchResult } from './lib/result';
import { writeReport } from './report';

interface Suite {
  readonly name: string;
  readonly load: () => Promise<{ run: (options: BenchOptions) => Promise<BenchResult[]> }>;
  /** Messages per round, full and quick. */
  readonly messages: { readonly full: number; readonly quick: number };
}

const suites: readonly Suite[] = [
  { name: 'memory', load: () => import('./memory'), messages: { full: 200_000, quick: 30_000 } },
  { name: 'tracing', load: () => import('./tracing'), messages: { full: 100_000, quick: 20_000 } },
  { name: 'kafka', load: () => import('./kafka'), messages: { full: 20_000, quick: 2_000 } },
  { name: 'nats', load: () => import('./nats'), messages: { full: 20_000, quick: 2_000 } },
  { name: 'rabbitmq', load: () => import('./rabbitmq'), messages: { full: 10_000, quick: 2_000 } },
  { name: 'redis', load: () => import('./redis'), messages: { full: 20_000, quick: 2_000 } },
  { name: 'outbox', load: () => import('./outbox'), messages: { full: 5_000, quick: 1_000 } },
];

const here = dirname(fileURLToPath(import.meta.url));

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const onlyIndex = args.indexOf('--only');
  const only = onlyIndex === -1 ? undefined : new Set(args[onlyIndex + 1]?.split(','));
  const selected = suites.filter((suite) => only === undefined || only.has(suite.name));
  if (selected.length === 0) throw new Error(`no benchmark matches --only ${[...(only ?? [])].join(',')}`);

  const results: BenchResult[] = [];
  const failures: string[] = [];
  for (const suite of selected) {
    const messages = quick ? suite.messages.quick : suite.messages.full;
    const started = performance.now();
    console.log(`bench: ${suite.name} (${messages} messages per round${quick ? ', quick' : ''})`);
    try {
      const module = await suite.load();
      const rows = await module.run({ messages, quick });
      results.push(...rows);
      console.table(rows);
    } catch (error) {
      // One broker that is down must not hide the others' figures; the run still fails at the end.
      failures.push(`${suite.name}: ${(error as Error).stack ?? String(error)}`);
      console.error(`bench: ${suite.name} failed`, error);
    }
    console.log(`bench: ${suite.name} took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }

  const machine = machineInfo();
  const resultsDir = join(here, 'results');
  await mkdir(resultsDir, { recursive: true });
  if (quick) {
    // A quick run is a smoke test: its figures are printed, and kept apart from the full results.
    await writeFile(join(resultsDir, 'quick.json'), `${JSON.stringify(results, null, 2)}\n`);
    console.log('bench: wrote bench/results/quick.json');
  } else {
    await writeFile(join(resultsDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
    await writeFile(join(resultsDir, 'machine.json'), `${JSON.stringify(machine, null, 2)}\n`);
    await writeReport(results, machine);
    // The other pages quote the same results in generated blocks (tools/bench-figures.ts).
    await writeFigures(results, machine);
    console.log(
      'bench: wrote bench/results/latest.json, docs/benchmarks.md, docs/benchmarks.svg and the figures of the other pages',
    );
  }
  if (failures.length > 0) {
    throw new Error(`benchmarks failed:\n${failures.join('\n')}`);
  }
}

await main();
