// The published packages as a user gets them: `npm pack` of every public package (once), then one
// fresh project outside the repository that installs the tarballs and the peers the documentation
// uses. The release check, the type fixtures and the new-user run all work on these.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { root } from '../docs/samples';

const run = promisify(execFile);

/** A public package of the workspace and its tarball. */
export interface PackedPackage {
  readonly name: string;
  readonly dir: string;
  readonly manifest: Record<string, unknown> & { name: string; version: string };
  readonly tarball: string;
}

/** The manifests of every public (not private) package under packages/. */
export async function publicPackages(): Promise<Omit<PackedPackage, 'tarball'>[]> {
  const found: Omit<PackedPackage, 'tarball'>[] = [];
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
  const results = JSON.parse(stdout) as { name: string; filename: string }[];
  return packages.map((p) => {
    const result = results.find((r) => r.name === p.name);
    if (result === undefined) throw new Error(`npm pack gave no tarball for ${p.name}`);
    return { ...p, tarball: join(into, result.filename) };
  });
}

/**
 * What a user installs beside our packages to run every documented sample: the brokers' clients,
 * Nest, OpenTelemetry, zod, the compiler and Node's types. Versions are the workspace's own.
 */
const companions = [
  'zod',
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
