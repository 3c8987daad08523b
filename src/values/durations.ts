import { CacheKeyError } from '../errors.js';

/** The units a duration string may carry. */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';

/**
 * A duration: a number in the option's own unit (seconds for TTLs and grace, ms for `…Ms` options),
 * or a string with its unit: `'500ms'`, `'30s'`, `'5m'`, `'2h'`, `'1d'` (decimals allowed: `'1.5h'`).
 */
export type Duration = number | `${number}${DurationUnit}`;

const MS_PER_UNIT: Record<DurationUnit, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A decimal number, optionally followed by a unit; no sign, no spaces inside, no exponent. */
const DURATION = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h|d)?$/;

/**
 * `value` in `unit`: a number as is; a string by its unit, or in `unit` when it has none (an
 * environment variable such as `CACHE_L1_TTL=5`); `undefined` for anything else. Range and
 * integer checks are the caller's.
 */
export function durationIn(value: unknown, unit: 's' | 'ms'): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return undefined;
  const parsed = DURATION.exec(value.trim());
  if (parsed === null) return undefined;
  const amount = Number(parsed[1]);
  const given = parsed[2] as DurationUnit | undefined;
  if (given === undefined || given === unit) return amount;
  // rounded to the nanosecond, so that '1.1s' is 1100 ms and not 1100.0000000000002
  return Math.round(((amount * MS_PER_UNIT[given]) / MS_PER_UNIT[unit]) * 1e6) / 1e6;
}

/**
 * How a value given as a number is described in an error: a string quoted, a number as is, anything
 * else by its type (never converted: an object without a prototype cannot be).
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return String(value);
  return value === null ? 'null' : `a ${typeof value}`;
}

/** How a duration is described in an error: `300 (s)`, `"5x"`, or its type. */
export function describeDuration(value: unknown, unit: 's' | 'ms'): string {
  return typeof value === 'number' ? `${value} (${unit})` : describeValue(value);
}

/** What a duration must look like, for error messages. */
export function durationHint(unit: 's' | 'ms'): string {
  return unit === 's'
    ? "a number of seconds or a string such as '30s', '5m', '2h', '1d'"
    : "a number of ms or a string such as '500ms', '30s', '5m'";
}

/**
 * A per-call duration (`ttl`, `grace`, `…Ms`) in `unit`, checked: more than 0 (or at least `min`),
 * a whole number when `integer`. Throws `CacheKeyError` naming the option and the value given.
 */
export function callDuration(
  name: string,
  value: unknown,
  unit: 's' | 'ms',
  rule: { min?: number; integer?: boolean } = {},
): number {
  const amount = durationIn(value, unit);
  const min = rule.min ?? 0;
  const inRange =
    amount !== undefined && Number.isFinite(amount) && (rule.min === undefined ? amount > 0 : amount >= min);
  if (!inRange) {
    const bound = rule.min === undefined ? '> 0' : `>= ${min}`;
    throw new CacheKeyError(
      `${name} must be ${durationHint(unit)} ${bound}, got ${describeDuration(value, unit)}`,
    );
  }
  if (rule.integer && !Number.isInteger(amount)) {
    const whole = unit === 's' ? 'whole number of seconds' : 'whole number of ms';
    throw new CacheKeyError(
      `${name} must be a ${whole}, got ${describeDuration(value, unit)} (${amount} ${unit})`,
    );
  }
  return amount;
}

/**
 * `ttl` (whole seconds) shortened by a random part of up to `jitter` (a fraction below 1), so that
 * values written together do not all expire at once; never below 1 second, never longer than `ttl`.
 */
export function spreadTtl(ttl: number, jitter: number): number {
  if (jitter === 0) return ttl;
  return Math.max(1, Math.round(ttl * (1 - jitter * Math.random())));
}
