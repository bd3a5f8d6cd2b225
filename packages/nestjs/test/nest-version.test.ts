// Says which Nest the tests ran on; under tools/nest-matrix.sh, checks it is the major asked for,
// so that a resolution that silently fell back to the workspace's Nest cannot pass for it.
import core from '@nestjs/core/package.json' with { type: 'json' };
import { expect, it } from 'vitest';

it('runs on the Nest major it was asked for', () => {
  const major = Number(core.version.split('.')[0]);
  console.info(`[nest-version] @nestjs/core ${core.version}`);
  const wanted = process.env.TIDINGS_NEST_MAJOR;
  if (wanted !== undefined) expect(major).toBe(Number(wanted));
  else expect(major).toBeGreaterThanOrEqual(10);
});
