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
    ...options,
  });
}
