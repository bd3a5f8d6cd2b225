// Where the project lives, written into every public package from ONE place: the root
// package.json's `repository` (and its `homepage` and `bugs`, when given). The project has no
// public address yet; until the root says one, this writes nothing and the release check warns.
//   npm run release:metadata          writes repository, homepage and bugs into every package
import { readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { root } from '../docs/samples';
import { publicPackages } from './packed';

/** The root package.json's `repository`, and the web address it implies. */
export interface RootRepository {
  /** As npm stores it, e.g. `git+https://github.com/owner/tidings.git`. */
  readonly url: string;
  /** The repository's web page, e.g. `https://github.com/owner/tidings`. */
  readonly web: string;
  readonly homepage: string | undefined;
  readonly bugs: unknown;
}

export async function rootRepository(): Promise<RootRepository | undefined> {
  const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
  const repository = manifest.repository as string | { url?: string } | undefined;
  const url = typeof repository === 'string' ? repository : repository?.url;
  if (url === undefined || url === '') return undefined;
  const web = url
    .replace(/^git\+/, '')
    .replace(/^git:\/\//, 'https://')
    .replace(/\.git$/, '');
  return { url, web, homepage: manifest.homepage, bugs: manifest.bugs };
}

/** The fields a package in folder `where` (e.g. `packages/core`) carries. */
export function expectedLinks(repository: RootRepository, where: string): Record<string, unknown> {
  return {
    repository: { type: 'git', url: repository.url, directory: where },
    homepage: repository.homepage ?? `${repository.web}/tree/main/${where}#readme`,
    bugs: repository.bugs ?? { url: `${repository.web}/issues` },
  };
}

/** Markdown links and images whose target is neither absolute nor an anchor of the same page. */
export function relativeLinks(markdown: string): string[] {
  const targets = [
    ...[...markdown.matchAll(/\]\(\s*<?([^)\s>]+)/g)].map((m) => m[1]!),
    ...[...markdown.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?\s*$/gm)].map((m) => m[1]!),
    ...[...markdown.matchAll(/<(?:a|img)\s[^>]*(?:href|src)="([^"]+)"/g)].map((m) => m[1]!),
  ];
  return targets.filter((target) => !/^(https?:|mailto:|#)/.test(target));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const repository = await rootRepository();
  if (repository === undefined) {
    console.log('release:metadata: the root package.json has no `repository`; nothing written.');
  } else {
    for (const p of await publicPackages()) {
      const where = relative(root, p.dir);
      // After `license`, where readers of package.json look for them; other fields keep their order.
      const fields = expectedLinks(repository, where);
      const next: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(p.manifest)) {
        if (key in fields) continue;
        next[key] = value;
        if (key === 'license') Object.assign(next, fields);
      }
      await writeFile(join(p.dir, 'package.json'), `${JSON.stringify(next, null, 2)}\n`);
      console.log(`release:metadata: ${where}/package.json points at ${repository.web}`);
    }
  }
}
