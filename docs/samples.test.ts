// Every ```ts block in docs/ and in the packages' READMEs is compiled here, so that a sample a
// reader copies compiles against the current API. Blocks are self-contained modules.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { markdownFiles, root, type Sample, samplesOf } from './samples';

const out = join(root, 'docs', '.samples');

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
