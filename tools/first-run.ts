// A new user's first hour, from the packed tarballs in a fresh project outside the repository:
//  1. type fixtures: every ```ts sample of the docs and READMEs (docs/samples.ts) type-checked by
//     the project's own `tsc` against the BUILT packages, once per compiler setting users have,
//     with `skipLibCheck: false`, so our declarations are checked too;
//  2. the new-user run: a first event on the in-memory broker from plain ESM (`import`), plain
//     CommonJS (`require`), and a TypeScript program compiled under each setting, each timed from
//     process start to the handled event, then a clean exit.
//   npm run check:packed                    (after npm run build; npm run release:check runs it too)
//   npm run check:packed -- strict node10   (only those settings)
//   npm run check:packed -- --keep          (leaves the project in the temp folder to look into)
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { markdownFiles, root, type Sample, samplesOf } from '../docs/samples';
import { installPacked, type PackedProject, packAll, reportEngines } from './packed';

const run = promisify(execFile);

/** One compiler setting a user's project may have. */
export interface Setting {
  readonly name: string;
  readonly why: string;
  /** The fixture folder's package.json `type`: whether a `.ts` file is an ES module or CommonJS. */
  readonly packageType: 'module' | 'commonjs';
  readonly compilerOptions: Record<string, unknown>;
}

// What every setting shares. Decorator settings are on everywhere because docs/nestjs.md needs
// them (as every Nest project sets them); they change nothing for code without decorators.
const common = {
  strict: true,
  target: 'ES2022',
  types: ['node'],
  skipLibCheck: false,
  experimentalDecorators: true,
  emitDecoratorMetadata: true,
  outDir: 'dist',
  rootDir: '.',
};

export const settings: readonly Setting[] = [
  {
    name: 'strict',
    why: 'plain `strict`, nothing else (module nodenext, an ES module package)',
    packageType: 'module',
    compilerOptions: { ...common, module: 'nodenext' },
  },
  {
    name: 'strict-exact',
    why: '`strict` + `exactOptionalPropertyTypes` + `noUncheckedIndexedAccess` (module nodenext, ESM)',
    packageType: 'module',
    compilerOptions: {
      ...common,
      module: 'nodenext',
      exactOptionalPropertyTypes: true,
      noUncheckedIndexedAccess: true,
    },
  },
  {
    name: 'nodenext-cjs',
    why: '`module: nodenext` in a CommonJS package (as `nest new` of Nest 12)',
    packageType: 'commonjs',
    compilerOptions: { ...common, module: 'nodenext' },
  },
  {
    name: 'bundler',
    why: '`module: preserve` + `moduleResolution: bundler` (Vite, esbuild, tsx)',
    packageType: 'module',
    compilerOptions: { ...common, module: 'preserve', moduleResolution: 'bundler' },
  },
  {
    name: 'node10',
    why: '`module: commonjs` with node10 resolution (older NestJS projects)',
    packageType: 'commonjs',
    compilerOptions: { ...common, module: 'commonjs', moduleResolution: 'node10', esModuleInterop: true },
  },
];

/** Whether a statement awaits at the top level (outside any function). */
function awaitsAtTopLevel(node: ts.Node): boolean {
  if (ts.isFunctionLike(node) || ts.isClassLike(node)) return false;
  if (ts.isAwaitExpression(node) || (ts.isForOfStatement(node) && node.awaitModifier !== undefined))
    return true;
  if (
    ts.isVariableStatement(node) &&
    (node.declarationList.flags & ts.NodeFlags.AwaitUsing) === ts.NodeFlags.AwaitUsing
  )
    return true;
  return ts.forEachChild(node, awaitsAtTopLevel) ?? false;
}

/** Whether a statement only declares what exists elsewhere (`declare const x: T`). */
function isAmbient(statement: ts.Statement): boolean {
  return (
    ts.canHaveModifiers(statement) &&
    (ts.getModifiers(statement) ?? []).some((modifier) => modifier.kind === ts.SyntaxKind.DeclareKeyword)
  );
}

/**
 * A sample as a file of this setting. CommonJS has no top-level await: a sample that awaits at
 * the top level keeps its imports and ambient declarations (`declare`, which a function body
 * cannot hold) and runs the rest inside `async function main()`, as a CommonJS user writes it
 * (its `export` keywords dropped, since a function body exports nothing).
 */
export function sampleFile(sample: Sample, setting: Setting): { text: string; wrapped: boolean } {
  const header = `// ${sample.source}:${sample.line}\n`;
  const source = ts.createSourceFile('sample.ts', sample.code, ts.ScriptTarget.Latest, true);
  if (setting.packageType === 'module' || !source.statements.some(awaitsAtTopLevel)) {
    return { text: `${header}${sample.code}\nexport {};\n`, wrapped: false };
  }
  const imports: string[] = [];
  const body: string[] = [];
  for (const statement of source.statements) {
    const text = statement.getFullText(source);
    if (
      ts.isImportDeclaration(statement) ||
      ts.isImportEqualsDeclaration(statement) ||
      isAmbient(statement)
    ) {
      imports.push(text);
    } else body.push(text.replace(/^(\s*)export (?!\{)/, '$1'));
  }
  return {
    text: `${header}${imports.join('')}\n\nasync function main(): Promise<void> {${body.join('')}\n}\nvoid main();\nexport {};\n`,
    wrapped: true,
  };
}

/** The documented samples, in the order docs/samples.ts reads them. */
export async function documentedSamples(): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (const file of await markdownFiles())
    samples.push(...samplesOf(relative(root, file), await readFile(file, 'utf8')));
  return samples;
}

// The new user's first program, in TypeScript: compiled under each setting, then run by node.
// No top-level await, so one text serves ES modules and CommonJS alike.
const firstEventTs = `import { createBus, defineEvent } from '@tidings/core';
import { z } from 'zod';

const OrderPlaced = defineEvent({
  type: 'shop.order.placed',
  schema: z.object({ orderId: z.string(), totalCents: z.number().int() }),
  key: (order) => order.orderId,
});

async function main(): Promise<void> {
  const bus = createBus({ source: 'order-service' });
  const handled = new Promise<number>((resolve) => {
    bus.subscribe(OrderPlaced, { group: 'email' }, async (event) => {
      if (event.data.orderId === 'order-1') resolve(performance.now());
    });
  });
  await bus.start();
  await bus.publish(OrderPlaced, { orderId: 'order-1', totalCents: 1250 });
  const handledAt = await handled;
  await bus.stop();
  console.log(JSON.stringify({ handledAtMs: Math.round(handledAt) }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
`;

// The same in plain JavaScript, once as an ES module and once as CommonJS. After the timed event
// they define a JSON Schema contract, which loads Ajv lazily (through createRequire in both builds),
// and subscribe to it on the running bus.
const firstEventJs = (load: string) => `${load}
const OrderPlaced = defineEvent({
  type: 'shop.order.placed',
  schema: z.object({ orderId: z.string(), totalCents: z.number().int() }),
  key: (order) => order.orderId,
});

async function main() {
  const bus = createBus({ source: 'order-service' });
  const handled = new Promise((resolve) => {
    bus.subscribe(OrderPlaced, { group: 'email' }, async (event) => {
      if (event.data.orderId === 'order-1') resolve(performance.now());
    });
  });
  await bus.start();
  await bus.publish(OrderPlaced, { orderId: 'order-1', totalCents: 1250 });
  const handledAt = await handled;
  // Untimed: a JSON Schema contract, defined after the first event as Ajv loads with it.
  const Shipped = defineEvent({
    type: 'shop.order.shipped',
    schema: {
      type: 'object',
      properties: { orderId: { type: 'string' }, carrier: { type: 'string', enum: ['dhl', 'ups'] } },
      required: ['orderId', 'carrier'],
      additionalProperties: false,
    },
  });
  const shipped = new Promise((resolve) => bus.subscribe(Shipped, { group: 'tracking', startFrom: 'earliest' }, async (e) => resolve(e.data.carrier)));
  await bus.publish(Shipped, { orderId: 'order-1', carrier: 'dhl' });
  if ((await shipped) !== 'dhl') throw new Error('the JSON Schema contract did not arrive');
  await bus.stop();
  console.log(JSON.stringify({ handledAtMs: Math.round(handledAt) }));
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
`;

/** What one setting's fixture found. */
export interface FixtureResult {
  readonly setting: Setting;
  readonly samples: number;
  readonly wrapped: number;
  /** Errors in the samples or in our own declarations: these fail the check. */
  readonly problems: readonly string[];
  /** Errors inside other packages' declarations (`skipLibCheck: false` reads them too): said, not ours to fix. */
  readonly thirdParty: readonly string[];
  readonly ms: number;
}

/** Writes and type-checks one fixture project per setting inside the packed project. */
export async function typeFixtures(
  project: PackedProject,
  samples: readonly Sample[],
  only: readonly string[] = [],
): Promise<FixtureResult[]> {
  const tsc = join(project.dir, 'node_modules', 'typescript', 'bin', 'tsc');
  const one = async (setting: Setting): Promise<FixtureResult> => {
    const dir = join(project.dir, 'fixtures', setting.name);
    await mkdir(join(dir, 'samples'), { recursive: true });
    await writeFile(
      join(dir, 'package.json'),
      `${JSON.stringify({ private: true, type: setting.packageType })}\n`,
    );
    await writeFile(
      join(dir, 'tsconfig.json'),
      `${JSON.stringify({ compilerOptions: setting.compilerOptions, include: ['samples', 'first-event.ts'] }, null, 2)}\n`,
    );
    await writeFile(join(dir, 'first-event.ts'), firstEventTs);
    let wrapped = 0;
    const names = new Map<string, Sample>();
    for (const [index, sample] of samples.entries()) {
      const file = sampleFile(sample, setting);
      if (file.wrapped) wrapped++;
      const name = `samples/sample-${String(index).padStart(2, '0')}.ts`;
      names.set(name, sample);
      await writeFile(join(dir, name), file.text);
    }
    const started = performance.now();
    const output = await run(process.execPath, [tsc, '-p', 'tsconfig.json', '--pretty', 'false'], {
      cwd: dir,
      maxBuffer: 64 * 1024 * 1024,
    }).then(
      (r) => r.stdout,
      (error: { stdout?: string; message: string }) => error.stdout || error.message,
    );
    const lines = output.split('\n').filter((line) => line.trim().length > 0 && !line.startsWith(' '));
    const isThirdParty = (line: string) =>
      line.includes('node_modules/') && !line.includes('node_modules/@tidings/');
    const problems = lines
      .filter((line) => !isThirdParty(line))
      .map((line) => {
        const match = /^(samples\/sample-\d+\.ts)\((\d+),(\d+)\): (.*)$/.exec(line);
        const sample = match === null ? undefined : names.get(match[1]!);
        // The sample file's line 1 is the header naming its origin; the code starts on line 2.
        return sample === undefined
          ? line
          : `${sample.source}:${sample.line + Number(match![2]) - 2}: ${match![4]}`;
      });
    const thirdParty = lines.filter(isThirdParty);
    return {
      setting,
      samples: samples.length,
      wrapped,
      problems,
      thirdParty,
      ms: performance.now() - started,
    };
  };
  // One at a time: each program takes ~600 MB and a core, and CI's cores are shared.
  const results: FixtureResult[] = [];
  for (const setting of settings)
    if (only.length === 0 || only.includes(setting.name)) results.push(await one(setting));
  return results;
}

/** One timed first run. */
export interface FirstRun {
  readonly how: string;
  /** Process start to the handled event, as the program measured it (`performance.now()`). */
  readonly handledAtMs: number;
  /** Spawn to exit, as seen from outside. */
  readonly wallMs: number;
}

function runNode(cwd: string, file: string, how: string): Promise<FirstRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [file], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    // A program that does not exit after bus.stop() is a failure: a user's would hang too.
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const wallMs = performance.now() - started;
      const line = stdout.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !line.startsWith('{')) {
        reject(new Error(`${how}: exit ${code ?? signal}\n${stdout}${stderr}`));
        return;
      }
      resolve({ how, handledAtMs: (JSON.parse(line) as { handledAtMs: number }).handledAtMs, wallMs });
    });
  });
}

/** The first event from ESM, CommonJS and the TypeScript program each fixture compiled. */
export async function firstRuns(project: PackedProject): Promise<FirstRun[]> {
  const dir = join(project.dir, 'first-run');
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'first-event.mjs'),
    firstEventJs(`import { createBus, defineEvent } from '@tidings/core';\nimport { z } from 'zod';\n`),
  );
  await writeFile(
    join(dir, 'first-event.cjs'),
    firstEventJs(
      `const { createBus, defineEvent } = require('@tidings/core');\nconst { z } = require('zod');\n`,
    ),
  );
  const runs = [
    await runNode(dir, 'first-event.mjs', 'JavaScript, ESM (import)'),
    await runNode(dir, 'first-event.cjs', 'JavaScript, CommonJS (require)'),
  ];
  for (const setting of settings) {
    if (!existsSync(join(project.dir, 'fixtures', setting.name))) continue;
    const fixture = join(project.dir, 'fixtures', setting.name);
    runs.push(await runNode(fixture, join('dist', 'first-event.js'), `TypeScript, ${setting.name}`));
  }
  return runs;
}

/**
 * The `tidings` command as an installed project runs it: its bin from node_modules/.bin, a
 * TypeScript config loaded without a build step, a contract validated by `publish --dry-run`.
 * Resolves with what it printed; rejects with the output when a command fails.
 */
export async function cliRun(project: PackedProject): Promise<string[]> {
  const dir = join(project.dir, 'cli-run');
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'tidings.config.ts'),
    [
      "import { defineConfig } from '@tidings/cli';",
      "import { createMemoryAdapter, defineEvent } from '@tidings/core';",
      "import { z } from 'zod';",
      '',
      "const OrderPlaced = defineEvent({ type: 'order.placed', schema: z.object({ orderId: z.string() }) });",
      '',
      'export default defineConfig({',
      '  adapter: () => createMemoryAdapter(),',
      '  events: [OrderPlaced],',
      "  subscriptions: [{ group: 'billing', events: [OrderPlaced] }],",
      '});',
      '',
    ].join('\n'),
  );
  await writeFile(join(dir, 'order.json'), '{"orderId":"o-1"}\n');
  const bin = join(project.dir, 'node_modules', '.bin', 'tidings');
  const run = (args: readonly string[]) =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(bin, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (chunk) => (out += chunk));
      child.stderr.on('data', (chunk) => (out += chunk));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(out.trim());
        else reject(new Error(`tidings ${args.join(' ')}: exit ${code}\n${out}`));
      });
    });
  const config = JSON.parse(await run(['config', '--json'])) as { adapter: string; events: unknown[] };
  if (config.adapter !== 'memory' || config.events.length !== 1) {
    throw new Error(`tidings config --json: unexpected ${JSON.stringify(config)}`);
  }
  return [
    `tidings --version: ${await run(['--version'])}`,
    `tidings config: the TypeScript config loaded, adapter ${config.adapter}, ${config.events.length} contract`,
    `tidings publish --dry-run: ${await run(['publish', 'order.placed', '--data', 'order.json', '--dry-run'])}`,
  ];
}

/** Prints the fixtures' counts and problems; true when every setting type-checked. */
export function reportFixtures(results: readonly FixtureResult[]): boolean {
  let ok = true;
  for (const r of results) {
    const wrapped = r.wrapped > 0 ? `, ${r.wrapped} with top-level await run inside async main()` : '';
    console.log(
      `type fixture ${r.setting.name.padEnd(12)} ${r.problems.length === 0 ? 'ok  ' : 'FAIL'} ${r.samples} samples checked${wrapped} (${(r.ms / 1000).toFixed(1)} s): ${r.setting.why}`,
    );
    for (const problem of r.problems) console.log(`  ${problem}`);
    for (const problem of r.thirdParty)
      console.log(`  (not ours, in another package's declarations) ${problem}`);
    if (r.problems.length > 0) ok = false;
  }
  return ok;
}

/** Prints the timings of the install and the first runs. */
export function reportRuns(project: PackedProject, runs: readonly FirstRun[]): void {
  console.log(
    `new-user run: npm install of the tarballs and companions took ${(project.installMs / 1000).toFixed(1)} s`,
  );
  for (const r of runs) {
    console.log(
      `new-user run: ${r.how.padEnd(32)} first event handled ${String(r.handledAtMs).padStart(4)} ms after process start, exit after ${Math.round(r.wallMs)} ms`,
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const packed = await packAll(join(root, '.cache', 'packed'));
  const project = await installPacked(packed);
  console.log(`packed project: ${project.dir}`);
  const enginesOk = await reportEngines(project);
  // `-- strict node10`: only those settings (all by default).
  const only = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
  const ok = reportFixtures(await typeFixtures(project, await documentedSamples(), only));
  reportRuns(project, await firstRuns(project));
  for (const line of await cliRun(project)) console.log(`new-user run: ${line}`);
  if (!process.argv.includes('--keep')) await rm(project.dir, { recursive: true, force: true });
  if (!ok || !enginesOk) process.exitCode = 1;
}
