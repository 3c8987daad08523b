/** What happens to an operation tracked by `Deadlines`; each hook runs at most once per operation. */
export interface DeadlineHooks {
  /** The operation answered before its deadline. */
  answered(): void;
  /** The operation failed before its deadline; returns the error its caller sees. */
  failed(err: unknown): unknown;
  /** The deadline passed first (the caller has just been rejected with the timeout error). */
  timedOut(): void;
}

interface Pending {
  deadline: number;
  reject: (err: unknown) => void;
  hooks: DeadlineHooks;
  settled: boolean;
}

/**
 * The operation deadline of every in-flight Redis command, kept with one timer for all of them.
 *
 * A timer per command (setTimeout + clearTimeout, what `withTimeout` does) costs an L2 hit a timer
 * allocation and two timer-list updates. Every operation gets the same timeout, so deadlines
 * expire in the order operations started: a FIFO queue whose head is always the next to expire,
 * watched by one timer armed for the head. Replies on one connection arrive in order too, so
 * settled entries leave from the head and the queue stays about as long as the commands in flight.
 */
export class Deadlines {
  readonly #timeoutMs: number;
  readonly #timeoutError: () => unknown;
  #queue: Array<Pending | undefined> = [];
  #head = 0;
  #timer: NodeJS.Timeout | undefined;

  /** `timeoutError()` builds the error a caller whose deadline passed is rejected with. */
  constructor(timeoutMs: number, timeoutError: () => unknown) {
    this.#timeoutMs = timeoutMs;
    this.#timeoutError = timeoutError;
  }

  /** Settles like `pending` (errors mapped by `hooks.failed`), unless the deadline comes first. */
  track<T>(pending: Promise<T>, hooks: DeadlineHooks): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { deadline: performance.now() + this.#timeoutMs, reject, hooks, settled: false };
      this.#queue.push(entry);
      if (this.#timer === undefined) this.#arm(entry.deadline);
      pending.then(
        (result) => {
          if (entry.settled) return;
          entry.settled = true;
          this.#dropSettled();
          hooks.answered();
          resolve(result);
        },
        (err: unknown) => {
          if (entry.settled) return;
          entry.settled = true;
          this.#dropSettled();
          reject(hooks.failed(err));
        },
      );
    });
  }

  /** Operations waiting for an answer or their deadline. */
  get size(): number {
    return this.#queue.length - this.#head;
  }

  /** Stops the timer (on close); operations still in flight then settle only with their command. */
  dispose(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(at: number): void {
    // unref: a deadline alone must not keep the process alive; the socket a command waits on does
    this.#timer = setTimeout(this.#expire, Math.max(0, at - performance.now()));
    this.#timer.unref();
  }

  readonly #expire = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    while (this.#head < this.#queue.length) {
      const entry = this.#queue[this.#head]!;
      if (!entry.settled) {
        if (entry.deadline > now) break;
        entry.settled = true;
        entry.reject(this.#timeoutError());
        entry.hooks.timedOut();
      }
      this.#queue[this.#head++] = undefined;
    }
    this.#compact();
    const next = this.#queue[this.#head];
    if (next !== undefined) this.#arm(next.deadline);
  };

  #dropSettled(): void {
    while (this.#head < this.#queue.length && this.#queue[this.#head]!.settled) {
      this.#queue[this.#head++] = undefined;
    }
    this.#compact();
    // the timer stays armed for an earlier deadline: when it fires, it re-arms for the new head
  }

  #compact(): void {
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
