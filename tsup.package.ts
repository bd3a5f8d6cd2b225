// The build every published package shares: ESM and CommonJS with declarations, for Node 20 and up.
// Each package's tsup.config.ts passes what differs (its entry points, an ESM-only format).
import { defineConfig, type Options } from 'tsup';

export function packageBuild(options: Options = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    // Shared chunks in CommonJS as in ESM: each entry point (`/adapter`, `/testing`) then
    // requires the one copy of every class, so `instanceof TidingsError` holds across them.
    splitting: true,
    // `import.meta.url` in the CommonJS build (the core loads Ajv lazily through createRequire).
    shims: true,
    ...options,
  });
}
