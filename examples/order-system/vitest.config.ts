import { defineProject, mergeConfig } from 'vitest/config';
import { sharedConfig } from '../../vitest.shared.ts';

export default mergeConfig(
  sharedConfig,
  defineProject({
    test: {
      name: 'example-order-system',
      include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'compare/**/*.test.ts'],
      // End-to-end runs go through real brokers on a machine other suites share: be generous.
      testTimeout: 120_000,
    },
  }),
);
