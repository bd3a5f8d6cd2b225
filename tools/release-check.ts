// Is every public package ready to publish? What `npm run release:check` (and CI) runs, after
// `npm run build`, on ONE `npm pack` of every public package and ONE fresh install of the tarballs:
//  1. `changeset status`: the changes on this branch carry their changesets (.changeset/);
//  2. the manifests: description, keywords, license, engines (the root's range), files, a README
//     with no relative link (they break on the registry's page), and repository/homepage/bugs as
//     the root package.json's `repository` says (a warning while it has none);
//  3. publint on every tarball, warnings and errors failing (suggestions printed);
//  4. arethetypeswrong on every tarball, no failure in any resolution mode (node10, node16 from
//     CommonJS and from ESM, bundler). @tidings/conformance is ESM only on purpose (it imports
//     vitest, which cannot be required), so it is checked with attw's `esm-only` profile;
//  5. the packed project of tools/first-run.ts: engines on Node 20.19/22.19/24, every docs sample
//     type-checked under five compiler settings, a first event from ESM, CommonJS and TypeScript.
//   npm run release:check              npm run release:check -- --keep  (leaves the temp project)
import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { root } from '../docs/samples';
import { documentedSamples, firstRuns, reportFixtures, reportRuns, typeFixtures } from './first-run';
import { expectedLinks, type RootRepository, relativeLinks, rootRepository } from './package-metadata';
import { installPacked, type PackedPackage, packAll, reportEngines } from './packed';

const run = promisify(execFile);
const failures: string[] = [];
const fail = (what: string) => {
  failures.push(what);
  console.log(`  FAIL ${what}`);
};
const started = performance.now();
const seconds = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;

/** Packages whose tarballs are ESM only on purpose, and why (attw's `esm-only` profile). */
const esmOnly: Record<string, string> = {
  '@tidings/conformance': 'imports vitest, which cannot be required',
};

async function checkChangesets(): Promise<void> {
  console.log(`\n== changeset status (${seconds()})`);
  const bin = join(root, 'node_modules', '@changesets', 'cli', 'bin.js');
  await run(process.execPath, [bin, 'status'], { cwd: root }).then(
    ({ stdout }) => console.log(stdout.trim()),
    (error: { stdout?: string; stderr?: string }) =>
      fail(`changeset status: ${`${error.stdout ?? ''}${error.stderr ?? ''}`.trim()}`),
  );
}

async function checkManifests(packed: readonly PackedPackage[], repository: RootRepository | undefined) {
  console.log(`\n== manifests and READMEs (${seconds()})`);
  const rootManifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
  const engines = rootManifest.engines?.node as string;
  if (repository === undefined) {
    console.log(
      '  WARNING the root package.json has no `repository`: no package carries repository, homepage or bugs.\n' +
        '          Set it once there, then `npm run release:metadata` writes them into every package.',
    );
  }
  for (const p of packed) {
    const m = p.manifest as Record<string, unknown>;
    const where = relative(root, p.dir);
    for (const field of ['description', 'license', 'files'] as const) {
      if (m[field] === undefined || m[field] === '') fail(`${where}/package.json has no ${field}`);
    }
    if (!Array.isArray(m.keywords) || m.keywords.length === 0) fail(`${where}/package.json has no keywords`);
    const nodeRange = (m.engines as { node?: string } | undefined)?.node;
    if (nodeRange !== engines)
      fail(`${where}/package.json: engines.node is ${nodeRange}, the root's is ${engines}`);
    if (repository !== undefined) {
      const expected = expectedLinks(repository, where);
      for (const [field, value] of Object.entries(expected)) {
        if (JSON.stringify(m[field]) !== JSON.stringify(value))
          fail(`${where}/package.json: ${field} is not ${JSON.stringify(value)} (npm run release:metadata)`);
      }
    }
    if (!p.files.includes('README.md')) fail(`${p.name}: the tarball has no README.md`);
    else {
      const links = relativeLinks(await readFile(join(p.dir, 'README.md'), 'utf8'));
      if (links.length > 0)
        fail(`${where}/README.md links relatively (broken on the registry): ${links.join(', ')}`);
    }
  }
  console.log(`  ${packed.length} packages: ${packed.map((p) => p.name).join(', ')}`);
}

async function checkPublint(packed: readonly PackedPackage[]): Promise<void> {
  console.log(`\n== publint (${seconds()})`);
  for (const p of packed) {
    const tarball = await readFile(p.tarball);
    const { messages, pkg } = await publint({
      pack: { tarball: tarball.buffer.slice(tarball.byteOffset, tarball.byteOffset + tarball.byteLength) },
      strict: true,
    });
    for (const message of messages) {
      const text = `${p.name}: ${message.type} ${formatMessage(message, pkg, { color: false }) ?? message.code}`;
      if (message.type === 'suggestion') console.log(`  suggestion ${text}`);
      else fail(`publint ${text}`);
    }
    if (messages.length === 0) console.log(`  ${p.name}: clean`);
  }
}

async function checkTypes(packed: readonly PackedPackage[]): Promise<void> {
  console.log(`\n== arethetypeswrong (${seconds()})`);
  const bin = join(root, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js');
  await Promise.all(
    packed.map(async (p) => {
      const profile = esmOnly[p.name] === undefined ? 'strict' : 'esm-only';
      const args = [
        bin,
        p.tarball,
        '--profile',
        profile,
        '--format',
        'table-flipped',
        '--no-color',
        '--no-emoji',
      ];
      const why = profile === 'esm-only' ? ` (ESM only on purpose: ${esmOnly[p.name]})` : '';
      await run(process.execPath, args, { cwd: root, maxBuffer: 16 * 1024 * 1024 }).then(
        () => console.log(`  ${p.name}: no problem in any resolution mode, profile ${profile}${why}`),
        (error: { stdout?: string; stderr?: string }) =>
          fail(`attw ${p.name}:\n${error.stdout ?? ''}${error.stderr ?? ''}`),
      );
    }),
  );
}

const repository = await rootRepository();
await checkChangesets();
console.log(`\n== npm pack of every public package (${seconds()})`);
const packed = await packAll(join(root, '.cache', 'packed'));
for (const p of packed) console.log(`  ${relative(root, p.tarball)} (${p.files.length} files)`);
await checkManifests(packed, repository);
await checkPublint(packed);
await checkTypes(packed);

console.log(`\n== a fresh project installs the tarballs (${seconds()})`);
const project = await installPacked(packed);
console.log(`  ${project.dir}`);
if (!(await reportEngines(project))) fail('an installed package refuses a supported Node version');
console.log(`\n== type fixtures (${seconds()})`);
if (!reportFixtures(await typeFixtures(project, await documentedSamples())))
  fail('a docs sample or our declarations do not type-check under a setting');
console.log(`\n== new-user run (${seconds()})`);
reportRuns(project, await firstRuns(project));
if (!process.argv.includes('--keep')) await rm(project.dir, { recursive: true, force: true });

console.log(
  `\n== release check: ${failures.length === 0 ? 'ready' : `${failures.length} problem(s)`} (${seconds()})`,
);
if (failures.length > 0) process.exitCode = 1;
