// Pass criterion 7 of issue 5: memory stays flat during a long outage, because nothing is queued
// per call. Measured in a child process of its own (--expose-gc), so that the heap holds nothing
// but one cache and the forced collections are exact.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

/** What test/fixtures/long-outage.ts prints. */
interface OutageMemory {
  writes: number;
  baselineBytes: number;
  peakGrowthBytes: number;
  lateGrowthBytes: number;
  breaker: string;
  l1Entries: number;
  l1MaxEntries: number;
  l1MaxBytes: number;
  failedCalls: number;
}

/** Room for V8's own bookkeeping (compiled code, inline caches) beside the L1 bound, in bytes. */
const CONSTANT_BYTES = 2 * 1024 * 1024;

describe('chaos: a long outage', () => {
  it('100 000 distinct writes, reads and loads while Redis is down grow the heap by no more than the L1 bound plus a small constant', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', 'test/fixtures/long-outage.ts', '100000'],
      { timeout: 120_000 },
    );
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as OutageMemory;
    expect(result.writes).toBe(100_000);
    expect(result.breaker).toBe('open');
    // every call of the outage failed over to a miss or false (set, get and getOrSet's read and store)
    expect(result.failedCalls).toBeGreaterThanOrEqual(300_000);
    expect(result.l1Entries).toBeLessThanOrEqual(result.l1MaxEntries);
    expect(result.peakGrowthBytes).toBeLessThan(result.l1MaxBytes + CONSTANT_BYTES);
    // and nothing accumulates per call: the last 60 000 writes (240 000 calls) add less than a byte each
    expect(result.lateGrowthBytes).toBeLessThan(256 * 1024);
    console.log(
      `[chaos] long outage: writes=${result.writes} peakHeapGrowthKiB=${Math.round(result.peakGrowthBytes / 1024)} lateGrowthKiB=${Math.round(result.lateGrowthBytes / 1024)}`,
    );
  });
});
