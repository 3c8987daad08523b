import { CacheConfigError } from '../errors.js';
import { describeDuration, describeValue, durationHint, durationIn } from '../values/durations.js';

/**
 * What a numeric option must be: at least `min`, a whole number when `integer`. With a `unit`, it is
 * a duration: a number in that unit, or a string such as `'30s'` or `'5m'` (values/durations.ts).
 */
export type NumberRule = { min: number; integer?: boolean; unit?: 's' | 'ms' };

/**
 * The number `optionValue`, else the environment variable `envName`, else `fallback`, checked
 * against `rule`; throws `CacheConfigError` naming where the bad value came from.
 */
export function pickNumber(
  optionValue: number | string | undefined,
  env: NodeJS.ProcessEnv,
  envName: string | undefined,
  optionName: string,
  fallback: number,
  rule: NumberRule,
): number {
  let given: unknown = optionValue;
  let source = `option ${optionName}`;
  if (given === undefined && envName !== undefined) {
    const raw = env[envName];
    if (raw !== undefined && raw.trim() !== '') {
      given = raw;
      source = `environment variable ${envName}`;
    }
  }
  if (given === undefined) return fallback;
  return checkNumber(given, source, rule);
}

/** `given` (a number, or a string from the environment or a duration) checked against `rule`. */
export function checkNumber(given: unknown, source: string, rule: NumberRule): number {
  const { unit } = rule;
  const value =
    unit !== undefined ? durationIn(given, unit) : typeof given === 'string' ? Number(given) : given;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    const expected = unit === undefined ? 'a number' : durationHint(unit);
    const shown = unit === undefined ? describeValue(given) : describeDuration(given, unit);
    throw new CacheConfigError(`${source} must be ${expected}, got ${shown}`);
  }
  if (value < rule.min) {
    throw new CacheConfigError(
      `${source} must be >= ${rule.min}${unitSuffix(unit)}, got ${shown(given, value, unit)}`,
    );
  }
  if (rule.integer && !Number.isInteger(value)) {
    const whole =
      unit === 's' ? 'a whole number of seconds' : unit === 'ms' ? 'a whole number of ms' : 'an integer';
    throw new CacheConfigError(`${source} must be ${whole}, got ${shown(given, value, unit)}`);
  }
  return value;
}

function unitSuffix(unit: 's' | 'ms' | undefined): string {
  return unit === undefined ? '' : ` ${unit}`;
}

function shown(given: unknown, value: number, unit: 's' | 'ms' | undefined): string {
  return typeof given === 'string' && unit !== undefined
    ? `${JSON.stringify(given)} (${value} ${unit})`
    : String(value);
}

/** A TTL in Redis: whole seconds, at least 1. */
export const TTL: NumberRule = { min: 1, integer: true, unit: 's' };
/** A duration in ms (timeouts, intervals): whole ms, at least 1. */
export const MS: NumberRule = { min: 1, integer: true, unit: 'ms' };
/** A count or a size: a whole number, at least 1. */
export const POSITIVE_INT: NumberRule = { min: 1, integer: true };
