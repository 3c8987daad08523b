import type { BreakerSettings } from '../../config/options.js';
import type { BreakerState } from '../driver.js';

/** What the breaker needs from its owner: a probe that resolves `true` once Redis answers in time. */
export interface BreakerHooks {
  probe(): Promise<boolean>;
  onChange(from: BreakerState, to: BreakerState, reason: string): void;
}

/**
 * A circuit breaker (closed → open → half-open → closed) that knows nothing about Redis.
 *
 * Closed: every operation goes through; `failureThreshold` consecutive failures open it.
 * Open: `allows()` is false, so callers skip L2 at once without touching the socket, and the
 * breaker probes in the background every `probeIntervalMs`. Half-open: a probe is in flight;
 * callers are still skipped, so a Redis that is only half back never sees a burst of traffic.
 * A successful probe closes it. Outcomes of operations sent before it opened (late answers,
 * late failures) do not move it: only probes do, so one slow straggler cannot close it early.
 */
export class CircuitBreaker {
  readonly #settings: BreakerSettings;
  readonly #hooks: BreakerHooks;
  #state: BreakerState = 'closed';
  #failures = 0;
  #opens = 0;
  #timer: NodeJS.Timeout | undefined;
  #disposed = false;

  constructor(settings: BreakerSettings, hooks: BreakerHooks) {
    this.#settings = settings;
    this.#hooks = hooks;
  }

  get state(): BreakerState {
    return this.#state;
  }

  /** How many times the breaker has opened since it was created. */
  get opens(): number {
    return this.#opens;
  }

  /** Whether an operation may use L2 now (only when closed). */
  allows(): boolean {
    return this.#state === 'closed';
  }

  /** Records an operation that got its answer in time (a Redis error reply counts: Redis answered). */
  succeeded(): void {
    if (this.#state === 'closed') this.#failures = 0;
  }

  /** Records an operation that timed out or found no usable connection. */
  failed(reason: string): void {
    if (this.#state !== 'closed' || this.#disposed) return;
    this.#failures++;
    if (this.#failures >= this.#settings.failureThreshold) {
      this.#opens++;
      this.#transition('open', `${this.#failures} consecutive failures (last: ${reason})`);
      this.#schedule(this.#settings.probeIntervalMs);
    }
  }

  /**
   * Redis has just proved it answers (a fresh connection passed its checks): close at once rather
   * than wait for the next probe. Does nothing when already closed.
   */
  recovered(reason: string): void {
    if (this.#state === 'closed' || this.#disposed) return;
    clearTimeout(this.#timer);
    this.#failures = 0;
    this.#transition('closed', reason);
  }

  /** Stops probing for good (on close). */
  dispose(): void {
    this.#disposed = true;
    clearTimeout(this.#timer);
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#probe(), delayMs);
    this.#timer.unref();
  }

  async #probe(): Promise<void> {
    if (this.#state !== 'open' || this.#disposed) return;
    this.#transition('half-open', 'probing Redis');
    let answered = false;
    try {
      answered = await this.#hooks.probe();
    } catch {
      answered = false;
    }
    // recovered() or dispose() may have run while the probe was in flight
    if (this.state !== 'half-open' || this.#disposed) return;
    if (answered) {
      this.#failures = 0;
      this.#transition('closed', 'Redis answered a probe');
    } else {
      this.#transition('open', 'probe failed');
      this.#schedule(this.#settings.probeIntervalMs);
    }
  }

  #transition(to: BreakerState, reason: string): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#hooks.onChange(from, to, reason);
  }
}
