import type { RedisClientType } from '@redis/client';
import { type OutcomeHook, withTimeout } from './outcome.js';

/** Allowance for the two clocks drifting apart between calibrations (500 ppm, NTP's slew limit). */
const DRIFT_PER_MS = 0.0005;

/** A monotonic clock in epoch milliseconds: wall-clock steps on this machine cannot move it. */
function localNow(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * How Redis's clock relates to ours, measured with `TIME` on every new connection and health
 * check, so that a write can carry its deadline in Redis's own clock (write-scripts.ts).
 */
export class RedisClock {
  /** Redis time minus local time, in ms. */
  #offsetMs = 0;
  /** Half the round trip of the measurement: the offset is exact within this, in ms. */
  #uncertaintyMs = 0;
  /** Local time of the measurement. */
  #at = 0;

  /** Measures Redis's clock against ours with `TIME`, within `timeoutMs`; rejects on any failure. */
  async calibrate(client: RedisClientType, timeoutMs: number, onOutcome?: OutcomeHook): Promise<void> {
    const sentAt = localNow();
    const [seconds, micros] = await withTimeout(
      client.sendCommand<[string, string]>(['TIME']),
      timeoutMs,
      onOutcome,
    );
    const receivedAt = localNow();
    const serverMs = Number(seconds) * 1000 + Number(micros) / 1000;
    this.#offsetMs = serverMs - (sentAt + receivedAt) / 2;
    this.#uncertaintyMs = (receivedAt - sentAt) / 2;
    this.#at = receivedAt;
  }

  /**
   * The deadline of a write sent at `sentAt` (performance.now) with `timeoutMs` to land, in Redis's
   * clock, shortened by every uncertainty so it errs early: Redis's clock reaches it before ours
   * reaches `sentAt + timeoutMs`.
   */
  deadline(sentAt: number, timeoutMs: number): number {
    const now = performance.timeOrigin + sentAt;
    const margin = this.#uncertaintyMs + 1 + (now - this.#at) * DRIFT_PER_MS;
    return Math.floor(now + timeoutMs + this.#offsetMs - margin);
  }
}
