import { defineConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript sources through this export condition, so the
// tests run against `src/` without a build step.
const conditions = ['@tidings/source', 'node', 'development|production'];

export const sharedConfig = defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    typecheck: { enabled: true, include: ['**/*.test-d.ts'] },
  },
});
