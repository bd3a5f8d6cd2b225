#!/usr/bin/env node
import { main } from './program';

const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
});
// An adapter's client may keep a timer or socket alive after close: the command is over.
process.stdout.write('', () => process.exit(code));
