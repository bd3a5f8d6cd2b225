// Loaded by vitest.shared.ts only under tools/peer-matrix.sh: fails every test file unless each
// swapped-in peer (TIDINGS_PEER_VERSIONS, "ioredis@5.0.0,...") is the version the matrix installed
// AND the very module the package under test gets when it imports the peer (through the alias).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const modules = process.env.TIDINGS_PEER_MODULES!;
const require = createRequire(join(modules, 'peer-check.cjs'));
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
}
