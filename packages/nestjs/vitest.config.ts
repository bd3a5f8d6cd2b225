import { join } from 'node:path';
import { defineProject, mergeConfig } from 'vitest/config';
import { sharedConfig } from '../../vitest.shared.ts';

// tools/nest-matrix.sh runs these tests again on another major of Nest, installed on its own:
// TIDINGS_NEST_MODULES names that install's node_modules, and every Nest package (and the two
// Nest shares with its users) is taken from there.
const nestModules = process.env.TIDINGS_NEST_MODULES;
const NEST_PACKAGES = [
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/testing',
  '@nestjs/platform-express',
  '@nestjs/config',
  '@nestjs/terminus',
  'reflect-metadata',
  'rxjs',
];
const alias =
  nestModules === undefined
    ? []
    : NEST_PACKAGES.map((name) => ({
        find: new RegExp(`^${name.replace('/', '\\/')}(/.*)?$`),
        replacement: `${join(nestModules, name)}$1`,
      }));

export default mergeConfig(
  sharedConfig,
  defineProject({
    // The tests run without decorator metadata, as the published build does: every injection in
    // the package and its fixtures names its token. (The example app is tested with metadata.)
    oxc: { decorator: { legacy: true, emitDecoratorMetadata: false } },
    resolve: { alias },
    test: {
      name: 'nestjs',
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      // The type tests check against the workspace's Nest types, which an alias does not swap.
      ...(nestModules === undefined ? {} : { typecheck: { enabled: false } }),
    },
  }),
);
