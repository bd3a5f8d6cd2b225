// The page's bundle: the UI sources (Preact + htm, uPlot) bundled by esbuild into one script and
// one stylesheet. Run at package build time into dist/ui; from sources (tests, the monorepo), the
// server runs it in memory on the first request instead.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The files of the page, by name (`main.js`, `main.css`). */
export type UiFiles = ReadonlyMap<string, Uint8Array>;

/** Where the UI sources are, from this file (src/server). */
export const UI_SOURCE = join(dirname(fileURLToPath(import.meta.url)), '..', 'ui', 'main.ts');

/**
 * Bundles the page. With `outdir`, writes the files there (the package build); without, returns
 * them. esbuild is loaded only here, so an installed package (with dist/ui) never needs it.
 */
export async function bundleUi(outdir?: string): Promise<UiFiles> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: { main: UI_SOURCE },
    bundle: true,
    format: 'esm',
    target: ['es2022'],
    minify: true,
    legalComments: 'linked',
    write: outdir !== undefined,
    outdir: outdir ?? '/ui',
    platform: 'browser',
    logLevel: 'silent',
  });
  return new Map(result.outputFiles?.map((file) => [file.path.split('/').pop()!, file.contents]) ?? []);
}
