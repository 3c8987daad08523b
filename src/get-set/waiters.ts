/**
 * Callers waiting for another process to store a key, by key: each pauses until its next poll, or
 * until coherence reports the key changed (the holder stored it), whichever comes first.
 */
export class Waiters {
  readonly #byKey = new Map<string, Set<(woken?: boolean) => void>>();

  /** Wakes the callers waiting on `redisKey` (every caller without one). */
  wake(redisKey?: string): void {
    if (this.#byKey.size === 0) return;
    const woken = redisKey === undefined ? [...this.#byKey.values()] : [this.#byKey.get(redisKey)];
    for (const wakers of woken) for (const wake of [...(wakers ?? [])]) wake();
  }

  /** Resolves after `ms` (to `false`), or as soon as `wake()` names `redisKey` (to `true`). */
  pause(redisKey: string, ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let wakers = this.#byKey.get(redisKey);
      if (wakers === undefined) {
        wakers = new Set();
        this.#byKey.set(redisKey, wakers);
      }
      const waiting = wakers;
      const wake = (woken = true) => {
        clearTimeout(timer);
        waiting.delete(wake);
        if (waiting.size === 0 && this.#byKey.get(redisKey) === waiting) this.#byKey.delete(redisKey);
        resolve(woken);
      };
      const timer = setTimeout(wake, ms, false);
      waiting.add(wake);
    });
  }
}
