// The published packages as a user gets them: `npm pack` of every public package (once), then one
// fresh project outside the repository that installs the tarballs and the peers the documentation
// uses. The release check, the type fixtures and the new-user run all work on these.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import semver from 'semver';
import { root } from '../docs/samples';

const run = promisify(execFile);

/** A public package of the workspace and its tarball. */
export interface PackedPackage {
  readonly name: string;
  readonly dir: string;
  readonly manifest: Record<string, unknown> & { name: string; version: string };
  readonly tarball: string;
  /** The paths inside the tarball. */
  readonly files: readonly string[];
}

/** The manifests of every public (not private) package under packages/. */
export async function publicPackages(): Promise<Omit<PackedPackage, 'tarball' | 'files'>[]> {
  const found: Omit<PackedPackage, 'tarball' | 'files'>[] = [];
  for (const entry of (await readdir(join(root, 'packages'), { withFileTypes: true })).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    if (!entry.isDirectory()) continue;
    const dir = join(root, 'packages', entry.name);
    const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
    if (manifest.private !== true) found.push({ name: manifest.name, dir, manifest });
  }
  return found;
}

/** `npm pack` of every public package into `into` (after `npm run build`). */
export async function packAll(into: string): Promise<PackedPackage[]> {
  await rm(into, { recursive: true, force: true });
  await mkdir(into, { recursive: true });
  const packages = await publicPackages();
  const args = ['pack', '--json', '--pack-destination', into, ...packages.flatMap((p) => ['-w', p.dir])];
  const { stdout } = await run('npm', args, { cwd: root, maxBuffer: 64 * 1024 * 1024 });
  const results = JSON.parse(stdout) as { name: string; filename: string; files: { path: string }[] }[];
  return packages.map((p) => {
    const result = results.find((r) => r.name === p.name);
    if (result === undefined) throw new Error(`npm pack gave no tarball for ${p.name}`);
    return { ...p, tarball: join(into, result.filename), files: result.files.map((f) => f.path) };
  });
}

/**
 * What a user installs beside our packages to run every documented sample: the brokers' clients,
 * Nest, OpenTelemetry, zod, the compiler and Node's types. Versions are the workspace's own.
 */
const companions = [
  'zod',
  '@platformatic/kafka',
  'kafkajs',
  'nats',
  'amqplib',
  'ioredis',
  'pg',
  '@types/pg',
  '@types/node',
  'typescript',
  'vitest',
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/config',
  '@nestjs/terminus',
  '@nestjs/testing',
  'reflect-metadata',
  'rxjs',
  '@opentelemetry/api',
  '@opentelemetry/context-async-hooks',
  '@opentelemetry/sdk-metrics',
  '@opentelemetry/sdk-trace-base',
];

async function workspaceRanges(): Promise<Map<string, string>> {
  const ranges = new Map<string, string>();
  const manifests = [JSON.parse(await readFile(join(root, 'package.json'), 'utf8'))];
  for (const group of ['packages', 'examples']) {
    for (const entry of await readdir(join(root, group))) {
      const text = await readFile(join(root, group, entry, 'package.json'), 'utf8').catch(() => undefined);
      if (text !== undefined) manifests.push(JSON.parse(text));
    }
  }
  for (const manifest of manifests) {
    for (const field of ['dependencies', 'devDependencies']) {
      for (const [name, range] of Object.entries<string>(manifest[field] ?? {})) {
        if (range !== '*' && !ranges.has(name)) ranges.set(name, range);
      }
    }
  }
  return ranges;
}

/** A fresh project with the tarballs installed, and what installing it took. */
export interface PackedProject {
  readonly dir: string;
  readonly installMs: number;
  /** npm's EBADENGINE warnings during the install, one line each (none expected). */
  readonly engineWarnings: readonly string[];
}

/**
 * Installs the tarballs and their companions into a new folder under the system's temp folder
 * (outside the repository, so nothing resolves from the workspace), as a user's `npm install`.
 */
export async function installPacked(packed: readonly PackedPackage[]): Promise<PackedProject> {
  const dir = await mkdtemp(join(tmpdir(), 'tidings-packed-'));
  const ranges = await workspaceRanges();
  const dependencies: Record<string, string> = {};
  for (const p of packed) dependencies[p.name] = `file:${p.tarball}`;
  for (const name of companions) {
    const range = ranges.get(name);
    if (range === undefined) throw new Error(`packed: no workspace version of ${name}`);
    dependencies[name] = range;
  }
  await writeFile(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: 'tidings-new-user', private: true, dependencies }, null, 2)}\n`,
  );
  const started = performance.now();
  const { stderr } = await run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=warn'],
    {
      cwd: dir,
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const installMs = performance.now() - started;
  const engineWarnings = stderr.split('\n').filter((line) => /EBADENGINE.*package:/.test(line));
  return { dir, installMs, engineWarnings };
}

/** The Node versions we promise (`engines`: ^20.19.0 || >=22.19.0): the lowest of each line, and 24. */
export const supportedNodes = ['20.19.0', '22.19.0', '24.0.0'] as const;

/** One installed package whose `engines.node` refuses a Node version we support. */
export interface EngineConflict {
  readonly name: string;
  readonly version: string;
  readonly engines: string;
  readonly refuses: readonly string[];
}

/**
 * Every package of the install (ours, their dependencies and the companions) whose `engines.node`
 * refuses one of the supported Node versions: what npm warns about as EBADENGINE on that version,
 * read from the lockfile with the same `semver` ranges npm uses, so that 22 and 24 are checked
 * without installing on each.
 */
export async function engineConflicts(project: PackedProject): Promise<EngineConflict[]> {
  const lock = JSON.parse(await readFile(join(project.dir, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { name?: string; version?: string; engines?: { node?: string } | string[] }>;
  };
  const conflicts: EngineConflict[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
    // The lockfile lists every platform's optional packages; only what was installed counts.
    if (path === '' || range === undefined || !existsSync(join(project.dir, path))) continue;
    const refuses = supportedNodes.filter(
      (node) => !semver.satisfies(node, range, { includePrerelease: true }),
    );
    if (refuses.length > 0) {
      const name = entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
      conflicts.push({ name, version: entry.version ?? '?', engines: range, refuses });
    }
  }
  return conflicts;
}

/**
 * Prints the install's engine conflicts; false when one would warn on Node 22 or 24, or when one
 * of ours refuses any supported version. A third-party package refusing only Node 20 is said
 * (Node 20 is past its end of life) without failing.
 */
export async function reportEngines(project: PackedProject): Promise<boolean> {
  let ok = true;
  for (const c of await engineConflicts(project)) {
    const fatal = c.name.startsWith('@tidings/') || c.refuses.some((node) => !node.startsWith('20.'));
    if (fatal) ok = false;
    console.log(
      `engines: ${fatal ? 'FAIL' : 'note'} ${c.name}@${c.version} wants node ${c.engines}, refusing ${c.refuses.join(', ')}`,
    );
  }
  for (const line of project.engineWarnings) console.log(`engines: npm on ${process.version}: ${line}`);
  console.log(
    `engines: ${ok ? 'no' : 'some'} package of the install refuses Node ${supportedNodes.filter((n) => !n.startsWith('20.')).join(' or ')}`,
  );
  return ok;
}
