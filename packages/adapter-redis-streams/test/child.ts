import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type FixtureProcess, startFixtureProcess } from '@tidings/conformance';

const here = dirname(fileURLToPath(import.meta.url));

/** A child process whose stdout lines a test can wait for. */
export type Child = FixtureProcess;

/** Runs a TypeScript fixture of `test/fixtures` in a Node process of its own, on the sources. */
export function runFixture(name: string, args: readonly string[]): Child {
  return startFixtureProcess(join(here, 'fixtures', name), { args });
}
