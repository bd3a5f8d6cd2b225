import { defineConfig, mergeConfig } from 'vitest/config';
import { sharedConfig } from '../vitest.shared.ts';

// The cluster suite: failover tests and the conformance suite against local three-node clusters
// (tools/cluster/). Not a project of the root config, so `npm test` never runs it; `npm run
// test:cluster` (tools/cluster/run.sh) starts the clusters, runs this config and stops them.
export default mergeConfig(
  sharedConfig,
  defineConfig({
    test: {
      name: 'cluster',
      root: import.meta.dirname,
      include: ['**/*.test.ts'],
      // One broker at a time: a failover run measures recovery, which a second run beside it on a
      // 2-core machine would distort.
      fileParallelism: false,
      testTimeout: 15 * 60_000,
      hookTimeout: 5 * 60_000,
    },
  }),
);
