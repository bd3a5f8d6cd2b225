import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript sources through this export condition, so the
// tests run against `src/` without a build step.
const conditions = ['@tidings/source', 'node', 'development|production'];

// tools/peer-matrix.sh runs a package's tests again on another version of a peer (the oldest its
// range allows), installed apart: TIDINGS_PEER_MODULES names that install's node_modules and
// TIDINGS_PEERS the packages taken from there ("ioredis" or "pg,@types/pg"), swapped in by alias
// as tools/nest-matrix.sh does for Nest. peer-check.setup.ts then checks the version loaded.
const peerModules = process.env.TIDINGS_PEER_MODULES;
const peers = (process.env.TIDINGS_PEERS ?? '').split(',').filter((name) => name !== '');
const alias =
  peerModules === undefined
    ? []
    : peers.map((name) => ({
        find: new RegExp(`^${name.replace('/', '\\/')}(/.*)?$`),
        replacement: `${join(peerModules, name)}$1`,
      }));

// tools/node-matrix.sh runs the tests again on other Node versions. Type tests are tsc's verdict,
// which does not depend on the Node that runs them: they run once, in npm test.
const typeTests = process.env.TIDINGS_NODE_MATRIX === undefined;

export const sharedConfig = defineConfig({
  resolve: { conditions, alias },
  ssr: { resolve: { conditions } },
  test: {
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    typecheck: { enabled: typeTests, include: ['**/*.test-d.ts'] },
    ...(peerModules === undefined
      ? {}
      : {
          setupFiles: [join(import.meta.dirname, 'tools/peer-check.setup.ts')],
          // Type tests read the workspace's own declarations, which an alias does not swap.
          typecheck: { enabled: false },
        }),
  },
});
