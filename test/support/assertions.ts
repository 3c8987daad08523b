import { expect } from 'vitest';
import type { TestRedis } from './redis.js';

/**
 * Asserts that `key` was written with a TTL of `ttl` seconds: its PTTL is at most `ttl` s and lost
 * less than 3 s since (`TTL` rounds, so a slow machine would read `ttl - 1` right after the write).
 */
export function expectTtl(redis: TestRedis, key: string, ttl: number): void {
  const pttlMs = Number(redis.cli('PTTL', key));
  expect(pttlMs, `PTTL of ${key}`).toBeLessThanOrEqual(ttl * 1000);
  expect(pttlMs, `PTTL of ${key}`).toBeGreaterThan(ttl * 1000 - 3000);
}
