import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as {
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
};

/**
 * The frameworks an application brings itself: the adapters plug into its own copy (the
 * OpenTelemetry API too: spans go to the tracer provider the application registered with its copy).
 */
const BROUGHT_BY_THE_APPLICATION = ['express', 'fastify', 'prom-client', '@opentelemetry/api'];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

/** Packages `src/` imports at run time (type-only imports are erased). */
function runtimeImports(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of sources('src')) {
    const text = readFileSync(file, 'utf8');
    for (const [, spec] of text.matchAll(/^import (?!type )[^;]*? from '([^'.][^']*)';/gms)) {
      const name = spec!.startsWith('@') ? spec!.split('/').slice(0, 2).join('/') : spec!.split('/')[0]!;
      if (spec!.startsWith('node:') || builtinModules.includes(name)) continue;
      found.set(name, file);
    }
  }
  return found;
}

describe('package manifest', () => {
  it('declares every package src/ imports at run time as a dependency, or a framework the application brings', () => {
    const imports = runtimeImports();
    expect(imports.has('fastify-plugin')).toBe(true);
    for (const [name, file] of imports) {
      const declared = name in manifest.dependencies || BROUGHT_BY_THE_APPLICATION.includes(name);
      expect(declared, `${name} (imported by ${file})`).toBe(true);
    }
    expect(Object.keys(manifest.peerDependencies).sort()).toEqual([...BROUGHT_BY_THE_APPLICATION].sort());
  });
});
