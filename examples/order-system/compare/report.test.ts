// The report is generated; these check that the committed one is what the generator makes of the
// committed measurements (so a change to the template cannot leave the docs behind), the
// arithmetic the runner relies on, and that the committed run passes its own checks.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { renderCharts } from './charts';
import { checkResults } from './checks';
import { percentile } from './load';
import { renderMarkdown } from './report';
import { capacityArithmetic } from './report-capacity';
import { expectedFailure } from './report-faults';
import type { Results } from './results';
import { draw } from './services';

const read = (path: string) => readFile(new URL(path, import.meta.url), 'utf8');
const saved = async (): Promise<Results> => JSON.parse(await read('./results.json')) as Results;

describe('the sync-vs-events report', () => {
  it('is what --render makes of results.json', async () => {
    const results = await saved();
    expect(renderMarkdown(results)).toBe(await read('../../../docs/sync-vs-events.md'));
    for (const [name, svg] of Object.entries(renderCharts(results))) {
      expect(svg).toBe(await read(`../../../docs/${name}`));
    }
  });

  it('states each claim with the arithmetic beside it', async () => {
    const report = renderMarkdown(await saved());
    expect(report).toContain('| chain ≈ 1,050 ms');
    expect(report).toContain('| hybrid ≈ 500 ms');
    expect(report).toMatch(/\| email at 3 s: chain ≈ 3,750 ms +\| 300 \+ 200 \+ 3,000 \+ 150 = 3,650/);
    expect(report).toContain('## Every figure, checked');
    for (const figure of [
      '4,200 (sync) vs 18,500',
      'p99 820 ms',
      '2.3×',
      '420 / 180 / 85',
      '68 % / 34 % / 12 %',
    ]) {
      expect(report).toContain(figure);
    }
  });

  it('comes from a run that passes its own checks', async () => {
    expect(checkResults(await saved())).toEqual([]);
  });
});

describe('the arithmetic', () => {
  it('caps the chain by its slowest service and Tidings by its request path', () => {
    const caps = capacityArithmetic({
      payment: { latencyMs: 300, capacity: 30 },
      inventory: { latencyMs: 200, capacity: 20 },
      email: { latencyMs: 400, capacity: 10 },
      analytics: { latencyMs: 150, capacity: 10 },
      warehouse: { latencyMs: 250 },
    });
    expect(caps).toEqual({ chain: 25, requestPath: 100, email: 25 });
  });

  it('fails a request when any service on its path fails or stalls', () => {
    const services = {
      payment: { latencyMs: 300, failShare: 0.1 },
      inventory: { latencyMs: 200, stallShare: 0.1, stallMs: 5_000 },
      email: { latencyMs: 400, failShare: 0.5 },
      analytics: { latencyMs: 150 },
      warehouse: { latencyMs: 250 },
    };
    expect(expectedFailure(services, 'events')).toBeCloseTo(1 - 0.9 * 0.9);
    expect(expectedFailure(services, 'sync')).toBeCloseTo(1 - 0.9 * 0.9 * 0.5);
  });

  it('draws faults uniformly and the same for the same call', () => {
    expect(draw('seed:email:order1@example.com:1')).toBe(draw('seed:email:order1@example.com:1'));
    const draws = Array.from({ length: 10_000 }, (_, i) => draw(`seed:payment:order${i}:1`));
    const share = draws.filter((d) => d < 0.1).length / draws.length;
    expect(share).toBeGreaterThan(0.09);
    expect(share).toBeLessThan(0.11);
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
