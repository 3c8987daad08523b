import { describe, expect, it } from 'vitest';
import { type DeadlineHooks, Deadlines } from '../../../src/l2/redis/deadlines.js';

function recorder() {
  const events: string[] = [];
  const hooks = (name: string): DeadlineHooks => ({
    answered: () => events.push(`${name}:answered`),
    failed: (err) => {
      events.push(`${name}:failed`);
      return new Error(`mapped ${String(err)}`);
    },
    timedOut: () => events.push(`${name}:timed-out`),
  });
  return { events, hooks };
}

const never = () => new Promise<never>(() => {});
const later = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe('Deadlines', () => {
  it('resolves with the answer when it comes before the deadline', async () => {
    const { events, hooks } = recorder();
    const deadlines = new Deadlines(200, () => new Error('too late'));
    await expect(deadlines.track(later(5, 'ok'), hooks('a'))).resolves.toBe('ok');
    expect(events).toEqual(['a:answered']);
    expect(deadlines.size).toBe(0);
    deadlines.dispose();
  });

  it('rejects with the mapped error when the command fails before the deadline', async () => {
    const { events, hooks } = recorder();
    const deadlines = new Deadlines(200, () => new Error('too late'));
    await expect(deadlines.track(Promise.reject('boom'), hooks('a'))).rejects.toThrow('mapped boom');
    expect(events).toEqual(['a:failed']);
    deadlines.dispose();
  });

  it('rejects every unanswered operation at its own deadline, in order, and ignores late answers', async () => {
    const { events, hooks } = recorder();
    const deadlines = new Deadlines(40, () => new Error('too late'));
    const started = performance.now();
    const first = deadlines.track(never(), hooks('first'));
    const answered = deadlines.track(later(5, 1), hooks('answered'));
    await later(20, 0);
    const second = deadlines.track(later(200, 'late'), hooks('second'));
    await expect(first).rejects.toThrow('too late');
    const firstAt = performance.now() - started;
    await expect(second).rejects.toThrow('too late');
    const secondAt = performance.now() - started;
    await expect(answered).resolves.toBe(1);
    expect(firstAt).toBeGreaterThanOrEqual(39);
    expect(secondAt).toBeGreaterThanOrEqual(59);
    await later(200, 0);
    expect(events).toEqual(['answered:answered', 'first:timed-out', 'second:timed-out']);
    expect(deadlines.size).toBe(0);
    deadlines.dispose();
  });

  it('keeps the queue as short as the operations in flight over many operations', async () => {
    const { hooks } = recorder();
    const deadlines = new Deadlines(1000, () => new Error('too late'));
    for (let round = 0; round < 20; round++) {
      await Promise.all(Array.from({ length: 200 }, (_, i) => deadlines.track(later(1, i), hooks('x'))));
    }
    expect(deadlines.size).toBe(0);
    deadlines.dispose();
  });
});
