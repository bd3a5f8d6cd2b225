// The report is generated; these check that the committed one is what the generator makes of the
// committed measurements (so a change to the template cannot leave the docs behind), and the
// arithmetic the runner relies on.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { percentile } from './load';
import { type Environment, type RunRecord, renderMarkdown, renderSvg } from './report';

const read = (path: string) => readFile(new URL(path, import.meta.url), 'utf8');

describe('the sync-vs-events report', () => {
  it('is what --render makes of results.json', async () => {
    const saved = JSON.parse(await read('./results.json')) as {
      environment: Environment;
      records: RunRecord[];
    };
    expect(renderMarkdown(saved.records, saved.environment)).toBe(
      await read('../../../docs/sync-vs-events.md'),
    );
    expect(renderSvg(saved.records)).toBe(await read('../../../docs/sync-vs-events.svg'));
  });

  it('states each claim with the arithmetic beside it', async () => {
    const saved = JSON.parse(await read('./results.json')) as {
      environment: Environment;
      records: RunRecord[];
    };
    const report = renderMarkdown(saved.records, saved.environment);
    expect(report).toContain('| chain ≈ 1,050 ms');
    expect(report).toContain('| hybrid ≈ 500 ms');
    expect(report).toMatch(/\| email at 3 s: chain ≈ 3,750 ms +\| 300 \+ 200 \+ 3,000 \+ 150 = 3,650/);
  });
});

describe('percentile', () => {
  it('takes the nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });
});
