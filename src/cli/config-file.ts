import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DomainOptions } from '../config/domains.js';
import type { CacheOptions } from '../config/options.js';
import { resolveConfig } from '../config/resolve.js';
import { CacheConfigError } from '../errors.js';
import { usage } from './failure.js';

/** The file the CLI reads in the working directory when `--config` is not given. */
export const CONFIG_FILE = 'cachette.config.json';

/**
 * What the CLI learns from a config file: the options of `createCache()` that say where the app's
 * keys are, under the same names, so that the application can load the same file.
 */
export type FileOptions = Pick<
  CacheOptions<Record<string, DomainOptions>>,
  'keyPrefix' | 'builtinDomains' | 'domains' | 'defaultTtl'
>;

const FIELDS: ReadonlyArray<keyof FileOptions> = ['keyPrefix', 'builtinDomains', 'domains', 'defaultTtl'];

/**
 * The options in `--config FILE` (which must exist), else in `cachette.config.json` of `cwd` if there
 * is one, else none. Throws a usage `CliFailure` naming the file for an unreadable file, bad JSON,
 * an unknown field, or a value `createCache()` would refuse.
 */
export function readConfigFile(
  given: string | undefined,
  cwd: string,
): { path?: string; options: FileOptions } {
  const path = resolve(cwd, given ?? CONFIG_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (given === undefined && code === 'ENOENT') return { options: {} };
    throw usage(`cannot read the config file ${path}: ${code ?? String(err)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw usage(`${path} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw usage(`${path} must hold a JSON object such as {"keyPrefix": "reports:", "domains": {…}}`);
  }
  const stray = Object.keys(parsed).find((field) => !(FIELDS as readonly string[]).includes(field));
  if (stray !== undefined) {
    throw usage(
      `${path}: ${JSON.stringify(stray)} is not a field of the config file; it takes ${FIELDS.join(', ')}`,
    );
  }
  const options = parsed as FileOptions;
  try {
    resolveConfig({ ...options, env: {} });
  } catch (err) {
    if (err instanceof CacheConfigError) throw usage(`${path}: ${err.message}`);
    throw err;
  }
  return { path, options };
}
