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

/** One ```ts block: where it sits (path from the root, first line of code) and its code. */
export interface Sample {
  readonly source: string;
  readonly line: number;
  readonly code: string;
}

/** The ```ts blocks of one Markdown text. */
export function samplesOf(source: string, text: string): Sample[] {
  const samples: Sample[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '```ts') continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end]!.trim() !== '```') end++;
    samples.push({ source, line: start + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return samples;
}
