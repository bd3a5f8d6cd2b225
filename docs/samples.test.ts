// Every ```ts block in docs/ and in the packages' READMEs is compiled here, so that a sample a
// reader copies compiles against the current API. Blocks are self-contained modules.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'docs', '.samples');

async function markdownFiles(): Promise<string[]> {
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

interface Sample {
  readonly source: string;
  readonly line: number;
  readonly code: string;
}

function samplesOf(source: string, text: string): Sample[] {
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

describe('documentation samples', () => {
  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('compile against the current API', async () => {
    await rm(out, { recursive: true, force: true });
    await mkdir(out, { recursive: true });
    const samples: Sample[] = [];
    for (const file of await markdownFiles())
      samples.push(...samplesOf(relative(root, file), await readFile(file, 'utf8')));
    expect(samples.length).toBeGreaterThanOrEqual(10);

    const fileNames: string[] = [];
    const origin = new Map<string, Sample>();
    for (const [index, sample] of samples.entries()) {
      const name = join(out, `sample-${index}.ts`);
      // `export {}` makes every sample a module, so top-level await and imports are allowed.
      await writeFile(name, `${sample.code}\nexport {};\n`);
      fileNames.push(name);
      origin.set(name, sample);
    }
    const config = ts.readConfigFile(join(root, 'tsconfig.base.json'), ts.sys.readFile);
    const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
    // Nest's decorators (docs/nestjs.md) are TypeScript's legacy ones, with metadata as Nest
    // projects compile them; no other sample uses decorators.
    const program = ts.createProgram(fileNames, {
      ...options,
      noEmit: true,
      noUnusedLocals: false,
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
    });
    const problems = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file !== undefined && origin.has(d.file.fileName))
      .map((d) => {
        const sample = origin.get(d.file!.fileName)!;
        const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
        return `${sample.source}:${sample.line + line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      });
    expect(problems).toEqual([]);
  }, 120_000);
});

describe('docs/adapters.md', () => {
  it('shows the capabilities the adapters declare (npm run docs:adapters regenerates it)', async () => {
    const { adapterEntries, adaptersDocPath, withFreshTable } = await import('../tools/adapter-docs');
    const document = await readFile(adaptersDocPath, 'utf8');
    expect(document).toBe(withFreshTable(document, adapterEntries()));
  });
});
