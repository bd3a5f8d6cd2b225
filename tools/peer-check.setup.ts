// Loaded by vitest.shared.ts only under tools/peer-matrix.sh: fails every test file unless each
// swapped-in peer (TIDINGS_PEER_VERSIONS, "ioredis@5.0.0,...") is the version the matrix installed
// AND the very module the package under test gets when it imports the peer (through the alias) or
// requires it lazily (Node's own resolution, which no alias reaches: the Kafka adapter loads kafkajs
// that way, only when asked to run on it).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const modules = process.env.TIDINGS_PEER_MODULES!;
const require = createRequire(join(modules, 'peer-check.cjs'));
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const workspaceRequire = createRequire(join(root, 'package.json'));
for (const expected of (process.env.TIDINGS_PEER_VERSIONS ?? '').split(',').filter(Boolean)) {
  const at = expected.lastIndexOf('@');
  const name = expected.slice(0, at);
  const version = expected.slice(at + 1);
  // Read from disk: a package's exports map may not list its package.json.
  const manifest = JSON.parse(readFileSync(join(modules, name, 'package.json'), 'utf8')) as {
    version: string;
  };
  const installed = manifest.version;
  if (installed !== version)
    throw new Error(`peer-matrix: ${name} ${installed} installed, ${version} expected`);
  const imported = (await import(/* @vite-ignore */ name)) as { default?: unknown };
  if ((imported.default ?? imported) !== require(name)) {
    throw new Error(`peer-matrix: importing ${name} does not load ${join(modules, name)}`);
  }
  // A CommonJS peer required through Node's resolution from the workspace gets the swapped-in one
  // too: its entry in Node's module cache is the matrix's module.
  let workspacePath: string | undefined;
  try {
    workspacePath = workspaceRequire.resolve(name);
  } catch {
    // ESM only, or not in the workspace: nothing requires it lazily.
  }
  const swapped = require.cache[require.resolve(name)];
  if (workspacePath !== undefined && swapped !== undefined) {
    require.cache[workspacePath] = swapped;
    if (workspaceRequire(name) !== require(name)) {
      throw new Error(
        `peer-matrix: requiring ${name} from the workspace does not load ${join(modules, name)}`,
      );
    }
  }
}
