import { defineProject, mergeConfig } from 'vitest/config';
import { sharedConfig } from '../../vitest.shared.ts';

export default mergeConfig(
  sharedConfig,
  defineProject({
    test: {
      name: 'adapter-kafka',
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      // Starts the local broker when it is not running (tools/kafka/kafka.sh).
      globalSetup: ['test/global-setup.ts'],
    },
  }),
);
