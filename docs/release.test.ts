// What a published package promises beyond its code: types for every subpath in every resolution
// mode, the supported Node range, and a README that works on the registry's page. The release
// check (npm run release:check) proves them on the packed tarballs; these keep the sources honest
// in `npm test`.
import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sampleFile, settings } from '../tools/first-run';
import { relativeLinks } from '../tools/package-metadata';
import { publicPackages } from '../tools/packed';
import { root, type Sample } from './samples';

describe('published packages', () => {
  it('declare types for every subpath export under node10 resolution (typesVersions)', async () => {
    for (const p of await publicPackages()) {
      const exportsMap = (p.manifest.exports ?? {}) as Record<string, unknown>;
      const subpaths = Object.keys(exportsMap).filter((s) => s !== '.' && s !== './package.json');
      const typesVersions = (
        p.manifest.typesVersions as Record<string, Record<string, string[]>> | undefined
      )?.['*'];
      for (const subpath of subpaths) {
        const types = ((exportsMap[subpath] as { import?: { types?: string } }).import?.types ?? '').replace(
          /^\.\//,
          '',
        );
        expect(typesVersions?.[subpath.slice(2)], `${p.name} ${subpath}`).toEqual([`./${types}`]);
      }
    }
  });

  it('share the root package.json engines and carry keywords', async () => {
    const rootManifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
    expect(rootManifest.engines.node).toBe('^20.19.0 || >=22.19.0');
    for (const p of await publicPackages()) {
      expect((p.manifest.engines as { node: string }).node, p.name).toBe(rootManifest.engines.node);
      expect(p.manifest.keywords, p.name).toEqual(expect.arrayContaining(['tidings']));
    }
  });

  it('have READMEs with absolute links only', async () => {
    for (const p of await publicPackages()) {
      const readme = await readFile(join(p.dir, 'README.md'), 'utf8');
      expect(relativeLinks(readme), relative(root, p.dir)).toEqual([]);
    }
  });
});

describe('the release tools', () => {
  it('tell relative links from absolute ones and anchors', () => {
    const markdown = [
      '[a](../../README.md) [b](https://www.npmjs.com/package/@tidings/core) [c](#install)',
      '![d](docs/figure.svg) <a href="docs/x.md">e</a>',
      '[f]: ./notes.md',
      '[g]: https://example.org/x',
    ].join('\n');
    expect(relativeLinks(markdown)).toEqual([
      '../../README.md',
      'docs/figure.svg',
      './notes.md',
      'docs/x.md',
    ]);
  });

  it('run a sample that awaits at the top level inside async main() in CommonJS, and leave ESM as written', () => {
    const sample: Sample = {
      source: 'docs/x.md',
      line: 3,
      kind: 'program',
      code: "import { createBus } from '@tidings/core';\nexport const bus = createBus({ source: 's' });\nawait bus.start();",
    };
    const cjs = settings.find((s) => s.name === 'node10')!;
    const esm = settings.find((s) => s.name === 'strict')!;
    const wrapped = sampleFile(sample, cjs);
    expect(wrapped.wrapped).toBe(true);
    expect(wrapped.text).toContain("import { createBus } from '@tidings/core';\n");
    expect(wrapped.text).toContain('async function main(): Promise<void> {\nconst bus = createBus');
    expect(sampleFile(sample, esm)).toEqual({
      text: `// docs/x.md:3\n${sample.code}\nexport {};\n`,
      wrapped: false,
    });
    // A sample without top-level await is a CommonJS module as written.
    expect(sampleFile({ ...sample, code: 'export const x = 1;' }, cjs).wrapped).toBe(false);
    // What is only declared stays at the top level: a function body cannot hold `declare`.
    const declaring = sampleFile(
      { ...sample, code: 'declare const adapter: unknown;\nawait Promise.resolve(adapter);' },
      cjs,
    ).text;
    expect(declaring.indexOf('declare const adapter')).toBeLessThan(declaring.indexOf('async function main'));
  });
});
