import { defineProject, mergeConfig } from 'vitest/config';
import { sharedConfig } from '../../vitest.shared.ts';

// The app's classes are compiled with decorator metadata (`emitDecoratorMetadata` in
// tsconfig.json, which Vite's Oxc transform follows), as `nest build` compiles them: its
// constructors are injected by their parameter types.
export default mergeConfig(
  sharedConfig,
  defineProject({ test: { name: 'example-nestjs-orders', include: ['test/**/*.test.ts'] } }),
);
