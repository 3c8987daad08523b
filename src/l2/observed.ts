import type { BreakerState, L2Driver, L2Entry, L2Read, L2State, OwedWork, PendingStatus } from './driver.js';
import type { Keyspace } from './keyspace.js';
import type { FailedCalls } from './outage.js';

/** The L2 operations timed for metrics; a bounded set, safe as a label value. */
export type L2Operation = 'get' | 'get_many' | 'set' | 'set_many' | 'delete' | 'scan' | 'command';

/** Told about every L2 call once it settled: what, how long in ms, and whether it failed. */
export type L2Observer = (operation: L2Operation, durationMs: number, failed: boolean) => void;

/**
 * Wraps the L2 driver to time its calls for observers (the Prometheus exporter). Only L2 calls
 * pass here, so the L1-hit path stays untouched; with no observer a call costs one extra function call.
 */
export class ObservedL2 implements L2Driver {
  readonly #inner: L2Driver;
  readonly #observers: L2Observer[] = [];

  constructor(inner: L2Driver) {
    this.#inner = inner;
  }

  /** Adds an observer; returns the function that removes it. */
  observe(observer: L2Observer): () => void {
    this.#observers.push(observer);
    return () => {
      const at = this.#observers.indexOf(observer);
      if (at !== -1) this.#observers.splice(at, 1);
    };
  }

  get state(): L2State {
    return this.#inner.state;
  }

  get sharded(): boolean {
    return this.#inner.sharded;
  }

  get keyspace(): Keyspace {
    return this.#inner.keyspace;
  }

  get breaker(): BreakerState {
    return this.#inner.breaker;
  }

  get breakerOpens(): number {
    return this.#inner.breakerOpens;
  }

  ready(timeoutMs: number): Promise<boolean> {
    return this.#inner.ready(timeoutMs);
  }

  get pending(): PendingStatus {
    return this.#inner.pending;
  }

  get failedCalls(): FailedCalls {
    return this.#inner.failedCalls;
  }

  owe(work: OwedWork): void {
    this.#inner.owe(work);
  }

  get(key: string): Promise<L2Read> {
    // the hot path: without observers, not even the closure
    if (this.#observers.length === 0) return this.#inner.get(key);
    return this.#timed('get', () => this.#inner.get(key));
  }

  getMany(keys: string[]): Promise<L2Read[]> {
    return this.#timed('get_many', () => this.#inner.getMany(keys));
  }

  set(entries: L2Entry[]): Promise<void> {
    if (this.#observers.length === 0) return this.#inner.set(entries);
    return this.#timed(entries.length === 1 ? 'set' : 'set_many', () => this.#inner.set(entries));
  }

  delete(keys: string[]): Promise<number> {
    return this.#timed('delete', () => this.#inner.delete(keys));
  }

  async *scan(pattern: string, count?: number): AsyncIterable<string[]> {
    const pages = this.#inner.scan(pattern, count)[Symbol.asyncIterator]();
    for (;;) {
      const page = await this.#timed('scan', () => pages.next());
      if (page.done) return;
      yield page.value;
    }
  }

  scanPage(cursor: string, pattern: string, count: number): Promise<[string, string[]]> {
    return this.#timed('scan', () => this.#inner.scanPage(cursor, pattern, count));
  }

  command<T>(args: string[]): Promise<T> {
    return this.#timed('command', () => this.#inner.command<T>(args));
  }

  commandOnPrimaries<T>(args: string[]): Promise<T[]> {
    return this.#timed('command', () => this.#inner.commandOnPrimaries<T>(args));
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  #timed<T>(operation: L2Operation, call: () => Promise<T>): Promise<T> {
    if (this.#observers.length === 0) return call();
    const started = performance.now();
    const report = (failed: boolean) => {
      const durationMs = performance.now() - started;
      for (const observer of this.#observers) observer(operation, durationMs, failed);
    };
    return call().then(
      (result) => {
        report(false);
        return result;
      },
      (err: unknown) => {
        report(true);
        throw err;
      },
    );
  }
}
