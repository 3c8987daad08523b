import { afterEach, describe, expect, it } from 'vitest';
import type { BreakerState } from '../../../src/l2/driver.js';
import { CircuitBreaker } from '../../../src/l2/redis/breaker.js';
import { waitFor } from '../../support/redis.js';

const breakers: CircuitBreaker[] = [];
afterEach(() => {
  for (const breaker of breakers.splice(0)) breaker.dispose();
});

/** A breaker whose probe answers what `answer` says at the time, recording every state change. */
function breakerWith(answer: { ok: boolean }, failureThreshold = 3) {
  const changes: Array<[BreakerState, BreakerState]> = [];
  let probes = 0;
  const breaker = new CircuitBreaker(
    { failureThreshold, probeIntervalMs: 20 },
    {
      probe: async () => {
        probes++;
        return answer.ok;
      },
      onChange: (from, to) => changes.push([from, to]),
    },
  );
  breakers.push(breaker);
  return { breaker, changes, probes: () => probes };
}

describe('CircuitBreaker', () => {
  it('opens after failureThreshold consecutive failures, and a success in between resets the count', () => {
    const { breaker } = breakerWith({ ok: false });
    breaker.failed('x');
    breaker.failed('x');
    breaker.succeeded();
    breaker.failed('x');
    breaker.failed('x');
    expect(breaker.state).toBe('closed');
    expect(breaker.allows()).toBe(true);
    breaker.failed('x');
    expect(breaker.state).toBe('open');
    expect(breaker.allows()).toBe(false);
    expect(breaker.opens).toBe(1);
  });

  it('keeps probing while Redis does not answer, and closes on the first probe it answers', async () => {
    const answer = { ok: false };
    const { breaker, changes, probes } = breakerWith(answer, 1);
    breaker.failed('down');
    await waitFor(() => probes() >= 3, 2000, 'three probes');
    expect(breaker.state).not.toBe('closed');
    answer.ok = true;
    await waitFor(() => breaker.state === 'closed', 2000, 'the breaker to close');
    expect(changes[0]).toEqual(['closed', 'open']);
    expect(changes).toContainEqual(['open', 'half-open']);
    expect(changes).toContainEqual(['half-open', 'open']);
    expect(changes.at(-1)).toEqual(['half-open', 'closed']);
    expect(breaker.allows()).toBe(true);
  });

  it('ignores answers and failures of operations sent before it opened; only probes move it', () => {
    const { breaker } = breakerWith({ ok: false }, 1);
    breaker.failed('down');
    breaker.succeeded();
    expect(breaker.state).toBe('open');
    breaker.failed('again');
    expect(breaker.opens).toBe(1);
  });

  it('closes at once when the owner reports a recovered connection', () => {
    const { breaker, changes } = breakerWith({ ok: false }, 1);
    breaker.failed('down');
    breaker.recovered('fresh connection answered');
    expect(breaker.state).toBe('closed');
    expect(changes.at(-1)).toEqual(['open', 'closed']);
  });

  it('stops probing once disposed', async () => {
    const { breaker, probes } = breakerWith({ ok: false }, 1);
    breaker.failed('down');
    breaker.dispose();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(probes()).toBe(0);
  });
});
