// The samples of the documentation: every ```ts block of docs/, of the packages' and examples'
// READMEs and of the root README. One reading of them, shared by the tests that compile them and
// the tools that type-check or run them elsewhere.
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root folder. */
export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Every Markdown file whose ```ts blocks are samples a reader may copy. */
export async function markdownFiles(): Promise<string[]> {
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.') || entry.name === 'dist') continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.name.endsWith('.md')) files.push(path);
    }
  };
  await walk(join(root, 'docs'));
  for (const group of ['packages', 'examples']) {
    for (const entry of await readdir(join(root, group), { withFileTypes: true })) {
      if (entry.isDirectory()) {
        const readme = join(root, group, entry.name, 'README.md');
        if (
          await readFile(readme).then(
            () => true,
            () => false,
          )
        )
          files.push(readme);
      }
    }
  }
  files.push(join(root, 'README.md'));
  return files;
}

/**
 * How a sample is run, from its fence (CONTRIBUTING.md, "Samples in the docs"):
 * - ```` ```ts ````: a whole program that ends by itself, with exit code 0;
 * - ```` ```ts server ````: a whole program that runs until Ctrl-C; it prints a line once it has
 *   done something, is then sent SIGINT, and must exit with code 0;
 * - ```` ```ts fragment ````: compiled only (it declares what it does not define, or needs a host
 *   such as a test runner).
 */
export type SampleKind = 'program' | 'server' | 'fragment';

/** One ```ts block: where it sits (path from the root, first line of code), its code and kind. */
export interface Sample {
  readonly source: string;
  readonly line: number;
  readonly code: string;
  readonly kind: SampleKind;
}

const FENCES: Readonly<Record<string, SampleKind>> = {
  '```ts': 'program',
  '```ts server': 'server',
  '```ts fragment': 'fragment',
};

/** The ```ts blocks of one Markdown text. */
export function samplesOf(source: string, text: string): Sample[] {
  const samples: Sample[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const fence = lines[i]!.trim();
    if (!fence.startsWith('```ts')) continue;
    const kind = FENCES[fence.replace(/\s+/g, ' ')];
    if (kind === undefined) throw new Error(`${source}:${i + 1}: unknown sample fence "${fence}"`);
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end]!.trim() !== '```') end++;
    samples.push({ source, line: start + 1, code: lines.slice(start, end).join('\n'), kind });
    i = end;
  }
  return samples;
}
