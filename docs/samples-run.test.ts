// Every runnable ```ts block of docs/ and of the READMEs is run here as a process of its own,
// against the real brokers and PostgreSQL, the way a reader who copies it would run it: tsx, with
// the workspace's packages resolved to their sources (the `@tidings/source` condition), so that
// the test needs no build and always runs the code beside it. How a sample is run depends on its
// fence (docs/samples.ts, CONTRIBUTING.md): a program must end by itself with exit code 0; a
// server is sent SIGINT once it printed a line and must then exit with code 0; a fragment is
// only compiled (docs/samples.test.ts). A broker that is down makes its samples fail.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markdownFiles, root, type Sample, samplesOf } from './samples';

const out = join(root, 'docs', '.samples-run');
/** Longest a sample may take, start-up included (Kafka's group join is the slowest part). */
const LIMIT_MS = 30_000;
/** Samples run at once: the machine's brokers and CPUs are shared with the other tests. */
const PARALLEL = 2;
/** The database the PostgreSQL samples reach through `DATABASE_URL`, as the outbox tests do. */
const { TIDINGS_POSTGRES_URL: POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test' } = process.env;

interface Outcome {
  readonly sample: Sample;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly interrupted: boolean;
  readonly ms: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(sample: Sample, file: string): Promise<Outcome> {
  const started = Date.now();
  // tsx as a loader of node itself, not its CLI: the CLI is a second process in between, which
  // costs a start-up and stands between the sample and the signal it is sent.
  const child: ChildProcess = spawn(
    process.execPath,
    ['--conditions=@tidings/source', '--import', 'tsx', file],
    {
      cwd: root,
      env: {
        ...process.env,
        DATABASE_URL: POSTGRES_URL,
        TSX_TSCONFIG_PATH: join(out, 'tsconfig.json'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  let interrupted = false;
  let timedOut = false;
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (sample.kind === 'server' && !interrupted && stdout.includes('\n')) {
      interrupted = true;
      child.kill('SIGINT');
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, LIMIT_MS);
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ sample, code, signal, timedOut, interrupted, ms: Date.now() - started, stdout, stderr });
    });
  });
}

function verdict(outcome: Outcome): string | undefined {
  const { sample, code, signal, timedOut, interrupted, ms, stdout, stderr } = outcome;
  let problem: string | undefined;
  if (timedOut) {
    problem =
      sample.kind === 'server' && !interrupted
        ? `printed nothing within ${LIMIT_MS} ms (a server sample prints a line once it has done something)`
        : `did not exit within ${LIMIT_MS} ms${interrupted ? ' of being started (SIGINT sent after its first line)' : ''}`;
  } else if (code !== 0) problem = `exited with ${code ?? signal}${interrupted ? ' after SIGINT' : ''}`;
  if (problem === undefined) return undefined;
  return `${sample.source}:${sample.line} ${problem} (${ms} ms)\n  stdout: ${stdout.slice(-600)}\n  stderr: ${stderr.slice(-1_500)}`;
}

/** A server sample that the SIGINT it was sent killed, instead of its handler stopping it. */
function diedOfTheInterrupt(outcome: Outcome): boolean {
  return outcome.sample.kind === 'server' && outcome.interrupted && outcome.signal === 'SIGINT';
}

describe('documentation samples', () => {
  const samples: Sample[] = [];

  beforeAll(async () => {
    for (const file of await markdownFiles())
      samples.push(...samplesOf(relative(root, file), await readFile(file, 'utf8')));
    await rm(out, { recursive: true, force: true });
    await mkdir(out, { recursive: true });
    // Nest's decorators (docs/nestjs.md) are TypeScript's legacy ones, as Nest projects compile
    // them; no other sample uses decorators.
    await writeFile(
      join(out, 'tsconfig.json'),
      JSON.stringify({
        extends: '../../tsconfig.base.json',
        compilerOptions: { experimentalDecorators: true },
        include: ['*.ts', '../../packages/*/src/**/*.ts'],
      }),
    );
  });
  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('run against the real brokers and exit cleanly (servers on SIGINT)', async () => {
    const runnable = samples.filter((sample) => sample.kind !== 'fragment');
    // Fragments are the exception, and stay so.
    expect(samples.length - runnable.length).toBeLessThanOrEqual(8);
    expect(runnable.length).toBeGreaterThanOrEqual(30);
    const problems: string[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < runnable.length) {
        const index = next++;
        const sample = runnable[index]!;
        const file = join(out, `sample-${index}.ts`);
        // `export {}` makes every sample a module, so top-level await and imports are allowed.
        await writeFile(file, `${sample.code}\nexport {};\n`);
        let outcome = await run(sample, file);
        if (diedOfTheInterrupt(outcome)) {
          // Once in CI (stop 30) a server sample that installs its handlers before its first line
          // died of the one SIGINT it was sent; it never did in 210 runs here. A second run tells a
          // sample without a handler (which dies again) from that; the first death stays in the log.
          console.log(`${sample.source}:${sample.line} died of its SIGINT; running it once more`);
          outcome = await run(sample, file);
        }
        const problem = verdict(outcome);
        if (problem !== undefined) problems.push(problem);
        console.log(
          `${sample.source}:${sample.line} ${sample.kind}: ${problem === undefined ? 'ok' : 'FAILED'} in ${outcome.ms} ms`,
        );
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    expect(problems).toEqual([]);
  }, 240_000);
});
