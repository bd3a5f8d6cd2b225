import { defineProject, mergeConfig } from 'vitest/config';
import { sharedConfig } from '../../vitest.shared.ts';

export default mergeConfig(
  sharedConfig,
  defineProject({
    // The tests run without decorator metadata, as the published build does: every injection in
    // the package and its fixtures names its token. (The example app is tested with metadata.)
    oxc: { decorator: { legacy: true, emitDecoratorMetadata: false } },
    test: {
      name: 'nestjs',
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    },
  }),
);
