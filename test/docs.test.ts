// The documentation as a newcomer meets it: a short README, pages whose links all lead somewhere,
// and a configuration page that names every environment variable the code reads.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const pages = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchors(path: string): Set<string> {
  const text = read(path).replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

describe('documentation', () => {
  it('keeps the README within 250 lines, with npm install cachette and the quick start on its first screen', () => {
    const readme = read('README.md');
    const lines = readme.split('\n');
    expect(lines.length).toBeLessThanOrEqual(250);
    expect(readme).toContain('npm install cachette');
    const quickStart = lines.indexOf('## Quick start');
    expect(quickStart).toBeGreaterThan(0);
    expect(quickStart).toBeLessThan(60);
  });

  it('has a page for every topic, and every relative link of every page leads to a file and heading that exist', () => {
    for (const page of [
      'getting-started',
      'concepts',
      'configuration',
      'loading',
      'invalidation',
      'coherence',
    ]) {
      expect(pages).toContain(`docs/${page}.md`);
    }
    for (const page of ['failure-behaviour', 'operations', 'topologies', 'benchmark', 'products-manager']) {
      expect(pages).toContain(`docs/${page}.md`);
    }
    for (const page of ['project-layout', 'migrating-from-bentocache', 'migrating-from-cache-manager']) {
      expect(pages).toContain(`docs/${page}.md`);
    }
    const broken: string[] = [];
    for (const page of pages) {
      const text = read(page).replace(/```[\s\S]*?```/g, '');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const [file, anchor] = target!.split('#');
        const path = file ? relative(root, join(root, dirname(page), file)) : page;
        if (!existsSync(join(root, path))) broken.push(`${page}: ${target}`);
        else if (anchor && path.endsWith('.md') && !anchors(path).has(anchor))
          broken.push(`${page}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('cites no document outside the repository: no requirement numbers, issue numbers or web links (the loopback aside)', () => {
    for (const page of pages) {
      const text = read(page);
      expect(text, page).not.toMatch(
        /\bSPEC\b|\bseed document\b|\bissue #\d|https?:\/\/(?!127\.0\.0\.1|localhost)/,
      );
    }
  });

  it('names in docs/configuration.md every environment variable the library reads', () => {
    const configuration = read('docs/configuration.md');
    const names = new Set(
      sourceFiles('src').flatMap((file) =>
        [...read(file).matchAll(/['"`]((?:CACHE|REDIS)_[A-Z0-9_]+)['"`]/g)].map((m) => m[1]!),
      ),
    );
    expect(names.size).toBeGreaterThan(15);
    expect([...names].filter((name) => !configuration.includes(name))).toEqual([]);
  });
});
