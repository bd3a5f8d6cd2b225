import { join } from 'node:path';
import { packageBuild } from '../../tsup.package';
import { bundleUi } from './src/server/ui-build';

export default packageBuild({
  // Loaded only when dist/ui is missing (from sources); never needed by the built package.
  external: ['esbuild'],
  // The page is bundled beside the server code, into dist/ui, where the server looks for it.
  onSuccess: async () => {
    await bundleUi(join(import.meta.dirname, 'dist', 'ui'));
  },
});
