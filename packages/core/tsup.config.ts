import { packageBuild } from '../../tsup.package';

export default packageBuild({ entry: ['src/index.ts', 'src/adapter.ts', 'src/testing.ts'], treeshake: true });
