import { CacheConfigError } from '../errors.js';

export type NumberRule = { min: number; integer?: boolean };

/**
 * The number `optionValue`, else the environment variable `envName`, else `fallback`, checked
 * against `rule`; throws `CacheConfigError` naming where the bad value came from.
 */
export function pickNumber(
  optionValue: number | undefined,
  env: NodeJS.ProcessEnv,
  envName: string | undefined,
  optionName: string,
  fallback: number,
  rule: NumberRule,
): number {
  let value = optionValue;
  let source = `option ${optionName}`;
  if (value === undefined && envName !== undefined) {
    const raw = env[envName];
    if (raw !== undefined && raw.trim() !== '') {
      value = Number(raw);
      source = `environment variable ${envName}`;
      if (!Number.isFinite(value)) {
        throw new CacheConfigError(`${envName} must be a number, got ${JSON.stringify(raw)}`);
      }
    }
  }
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < rule.min) {
    throw new CacheConfigError(`${source} must be a number >= ${rule.min}, got ${String(value)}`);
  }
  if (rule.integer && !Number.isInteger(value)) {
    throw new CacheConfigError(`${source} must be an integer, got ${value}`);
  }
  return value;
}

export const TTL: NumberRule = { min: 1, integer: true };
export const POSITIVE_INT: NumberRule = { min: 1, integer: true };
