// Every benchmark figure in the docs comes from bench/results/latest.json: docs/benchmarks.md is
// generated whole, other pages carry generated blocks (tools/bench-figures.ts), and no page copies
// a throughput figure by hand. `npm run docs:figures` (or `npm run bench`) refreshes the blocks.
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  blockNames,
  copiedFigures,
  figurePages,
  latestResults,
  root,
  staleBlocks,
} from '../tools/bench-figures';
import { markdownFiles } from './samples';

describe('benchmark figures in the docs', () => {
  it('are the generated blocks, fresh from the latest results', async () => {
    const { results, machine } = await latestResults();
    const stale: string[] = [];
    for (const page of figurePages) {
      const document = await readFile(page, 'utf8');
      expect(blockNames(document), relative(root, page)).not.toEqual([]);
      for (const name of staleBlocks(document, results, machine, page))
        stale.push(`${relative(root, page)}: ${name}`);
    }
    expect(stale).toEqual([]);
  });

  it('are never copied by hand outside them', async () => {
    // The benchmark report is generated whole; the experiment's report is its own run's output.
    const generated = new Set(['docs/benchmarks.md', 'docs/sync-vs-events.md']);
    const copies: string[] = [];
    for (const file of await markdownFiles()) {
      const path = relative(root, file);
      if (generated.has(path)) continue;
      for (const figure of copiedFigures(await readFile(file, 'utf8'))) copies.push(`${path}: ${figure}`);
    }
    expect(copies).toEqual([]);
  });
});
