// Loads every entry point of every built package, as ESM and, where it offers one, as CommonJS, with whatever Node runs
// this script: proof that what we publish works on that Node version, not only our sources.
//   node tools/load-packages.mjs        (after npm run build)
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const require = createRequire(join(root, 'package.json'));
let loaded = 0;

for (const dir of await readdir(join(root, 'packages'))) {
  const manifest = JSON.parse(await readFile(join(root, 'packages', dir, 'package.json'), 'utf8'));
  for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
    if (typeof target !== 'object' || target === null) continue; // ./package.json
    const specifier = subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`;
    const esm = await import(specifier);
    const names = Object.keys(esm).filter((name) => name !== 'default');
    // A package without a `require` condition is ESM only (the conformance suite, like vitest).
    const cjs = 'require' in target ? require(specifier) : esm;
    const missing = names.filter((name) => !(name in cjs));
    if (names.length === 0 || missing.length > 0) {
      throw new Error(
        `${specifier}: ESM exports ${names.length}, missing from CommonJS: ${missing.join(', ')}`,
      );
    }
    loaded += 1;
  }
}
console.log(
  `load-packages: Node ${process.version} loaded ${loaded} entry points (ESM, and CommonJS where offered)`,
);
