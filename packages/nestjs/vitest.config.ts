import { defineProject, mergeConfig } from 'vitest/config';
import { sharedConfig } from '../../vitest.shared.ts';

export default mergeConfig(
  sharedConfig,
  defineProject({
    oxc: { decorator: { legacy: true, emitDecoratorMetadata: false } },
    test: {
      name: 'nestjs',
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    },
  }),
);
