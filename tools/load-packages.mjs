// Loads every entry point of every built package, as ESM and, where it offers one, as CommonJS, with whatever Node runs
// this script: proof that what we publish works on that Node version, not only our sources.
//   node tools/load-packages.mjs        (after npm run build)
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const require = createRequire(join(root, 'package.json'));
let loaded = 0;
const coreEsm = await import('@tidings/core');
const coreCjs = require('@tidings/core');

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
    // One copy of every class across entry points, in each module system: `/adapter` re-exports
    // the errors of the root, and `instanceof TidingsError` must hold whichever entry made them.
    for (const [system, mod] of [
      ['ESM', esm],
      ['CommonJS', cjs],
    ]) {
      const core = system === 'ESM' ? coreEsm : coreCjs;
      const copies = names.filter(
        (name) => name in core && typeof mod[name] === 'function' && mod[name] !== core[name],
      );
      if (copies.length > 0) {
        throw new Error(`${specifier} (${system}): a second copy of ${copies.join(', ')} from @tidings/core`);
      }
    }
    loaded += 1;
  }
}

// An error an adapter raises is an instance of the class the application imports, in both systems.
for (const [system, adapters, core] of [
  ['ESM', await import('@tidings/adapter-kafka'), coreEsm],
  ['CommonJS', require('@tidings/adapter-kafka'), coreCjs],
]) {
  let thrown;
  try {
    adapters.createKafkaAdapter({ brokers: [] });
  } catch (error) {
    thrown = error;
  }
  if (!(thrown instanceof core.TidingsError) || !(thrown instanceof core.ConfigError)) {
    throw new Error(`${system}: an adapter's ConfigError is not an instance of @tidings/core's TidingsError`);
  }
}
console.log(
  `load-packages: Node ${process.version} loaded ${loaded} entry points (ESM, and CommonJS where offered)`,
);
