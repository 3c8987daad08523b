import type { LoadContext, LoadTarget, Read } from './context.js';
import type { Lease } from './lease.js';
import type { Plan } from './plan.js';
import type { Waiters } from './waiters.js';

/** How the wait for a key's lease ended. */
export type LeaseWait<T> =
  | { kind: 'lease'; lease: Lease }
  | { kind: 'value'; value: T }
  /** Redis failed: single-flight degrades to this process. */
  | { kind: 'unlocked' }
  /** Another process still holds the lease after `waitMs`: call the factory, leave the store to it. */
  | { kind: 'gave-up' };

/** First and largest pause between two polls of a value another process is loading, in ms. */
const POLL_FIRST_MS = 5;
const POLL_MAX_MS = 100;

/**
 * Takes the lease of `redisKey`, or waits for the process holding it to store the value: reads L2
 * again as soon as coherence reports the key changed (the read that found it missing left it
 * tracked, so the holder's store is reported, and `waiters` is woken), else after a growing pause
 * (a lost report, coherence off), and retries the lease whenever the value is still missing (the
 * holder may have died, failed, or been invalidated), until `lock.waitMs` has passed.
 */
export async function leaseOrValue<T>(
  context: LoadContext,
  waiters: Waiters,
  target: LoadTarget,
  redisKey: string,
  lock: NonNullable<Plan['lock']>,
  tagKeys: readonly string[],
  ticket: number,
): Promise<LeaseWait<T>> {
  const { l1, l2, codec, leases, stats } = context;
  const deadline = Date.now() + lock.waitMs;
  let pauseMs = POLL_FIRST_MS;
  let waiting = false;
  // the ticket of the latest read: a fill guard for it, and a change reported since it was taken
  // means the value may be there already
  let readTicket = ticket;
  let skippedPause = false;
  for (;;) {
    let remainingMs: number;
    try {
      const acquiring = leases.acquire(redisKey, target.prefix, lock.leaseMs, tagKeys);
      // Sent right behind the acquisition on the same connection (both leave in this tick, in this
      // order), so Redis runs it just after: a value stored by a loader that finished between our
      // miss and our acquisition shows here, at no extra round trip.
      const reading = l2.get(redisKey).catch(() => undefined);
      const acquisition = await acquiring;
      const reply = await reading;
      const read: Read<T> =
        reply === undefined
          ? { kind: 'miss' }
          : codec.decode<T>('getOrSet', redisKey, reply, readTicket, target.counters);
      if (acquisition.acquired) {
        if (read.kind !== 'fresh') return { kind: 'lease', lease: acquisition.lease };
        await leases.release(acquisition.lease);
        return { kind: 'value', value: read.value };
      }
      if (read.kind === 'fresh') return { kind: 'value', value: read.value };
      remainingMs = acquisition.remainingMs;
    } catch (err) {
      context.failures.report('getOrSet', target.counters, err);
      return { kind: 'unlocked' };
    }
    if (!waiting) {
      waiting = true;
      stats.leaseWaits++;
    }
    const leftMs = deadline - Date.now();
    if (leftMs <= 0) return { kind: 'gave-up' };
    // a report that arrived before the reply above (it comes on another connection) is not waited
    // for; not twice in a row, so that a key changing all the time does not make the loop spin
    if (skippedPause || l1.unchangedSince(redisKey, readTicket)) {
      skippedPause = false;
      if (await waiters.pause(redisKey, Math.max(1, Math.min(pauseMs, leftMs, remainingMs)))) {
        stats.waitsWoken++;
      }
      pauseMs = Math.min(pauseMs * 2, POLL_MAX_MS);
    } else {
      skippedPause = true;
      stats.waitsWoken++;
    }
    readTicket = l1.ticket(redisKey);
    const read = await context.read<T>(target, redisKey, readTicket);
    if (read.kind === 'fresh') return { kind: 'value', value: read.value };
    if (read.kind === 'failed') return { kind: 'unlocked' };
  }
}
