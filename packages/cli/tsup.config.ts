import { packageBuild } from '../../tsup.package';

// The library (defineConfig, main) for ESM and CommonJS configs; the command itself is ESM only.
export default [
  packageBuild(),
  packageBuild({ entry: ['src/bin.ts'], format: ['esm'], dts: false, clean: false }),
];
