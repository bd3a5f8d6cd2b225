import { packageBuild } from '../../tsup.package';

export default packageBuild({
  // ESM only: vitest, which the suite registers its tests with, cannot be loaded with require().
  format: ['esm'],
  external: ['vitest', '@tidings/core'],
});
