// The page and its two files. An installed package serves dist/ui, built with it; from sources
// the bundle is made in memory on first request (esbuild, a development dependency).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleUi, type UiFiles } from './ui-build';

const TYPES: Record<string, string> = {
  'main.js': 'text/javascript; charset=utf-8',
  'main.css': 'text/css; charset=utf-8',
};

/** The page: no inline script or style (the Content-Security-Policy forbids them). */
export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tidings console</title>
<link rel="stylesheet" href="./assets/main.css">
<script type="module" src="./assets/main.js"></script>
</head>
<body>
<noscript>The Tidings console needs JavaScript.</noscript>
<div id="app"></div>
</body>
</html>
`;

/** Loads the page's files once, from dist/ui or by bundling the sources. */
export function createAssets(): {
  get(name: string): Promise<{ type: string; body: Uint8Array } | undefined>;
} {
  let files: Promise<UiFiles> | undefined;
  const load = async (): Promise<UiFiles> => {
    // In the built package this module is inlined into dist/*.js, and the UI sits in dist/ui.
    const built = join(dirname(fileURLToPath(import.meta.url)), 'ui');
    if (existsSync(join(built, 'main.js'))) {
      const entries = await Promise.all(
        Object.keys(TYPES).map(async (name) => [name, await readFile(join(built, name))] as const),
      );
      return new Map(entries);
    }
    return bundleUi();
  };
  return {
    async get(name) {
      const type = TYPES[name];
      if (type === undefined) return undefined;
      files ??= load();
      files.catch(() => {
        files = undefined;
      });
      const body = (await files).get(name);
      return body === undefined ? undefined : { type, body };
    },
  };
}
