/** One level of a logger: pino's signature, `(fields, message)` or `(message)`. */
export type LogFn = (obj: object | string, msg?: string) => void;

/** Any pino-compatible logger: `logger.warn({ err }, 'message')` or `logger.warn('message')`. */
export interface Logger {
  /** Details worth nothing in production: isolated timeouts, refresh-ahead failures. */
  debug: LogFn;
  /** Invalidations (what, why, how many), an outage ending, admin clears. */
  info: LogFn;
  /** An outage starting, refused values, stale values served, a breaker opening. */
  warn: LogFn;
  /** What needs an operator: a missing ACL permission, coherence that cannot run. */
  error: LogFn;
}

function toConsole(level: 'warn' | 'error'): LogFn {
  return (obj, msg) => {
    const line = typeof obj === 'string' ? obj : msg;
    const fields = typeof obj === 'string' ? undefined : obj;
    console[level](`[cachette] ${line ?? ''}`, ...(fields ? [fields] : []));
  };
}

const noop: LogFn = () => {};

/** The default logger: quiet except warnings and errors, on stderr. */
export const defaultLogger: Logger = {
  debug: noop,
  info: noop,
  warn: toConsole('warn'),
  error: toConsole('error'),
};

/** A logger that drops everything (for tests and CLIs that print their own output). */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

/** Describes an error for a log line without its stack, and without anything that could hold a secret. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/**
 * Logs a recurring problem once, then at most once per `intervalMs` with the number of repeats,
 * so an outage or a misbehaving caller produces a handful of lines rather than one per call.
 */
export class RateLimitedLog {
  readonly #last = new Map<string, { at: number; suppressed: number }>();
  readonly #intervalMs: number;

  constructor(intervalMs = 10_000) {
    this.#intervalMs = intervalMs;
  }

  /** Calls `emit(repeats)` unless `topic` was emitted less than `intervalMs` ago. */
  emit(topic: string, emit: (suppressed: number) => void): void {
    const now = Date.now();
    const seen = this.#last.get(topic);
    if (seen && now - seen.at < this.#intervalMs) {
      seen.suppressed++;
      return;
    }
    if (this.#last.size > 1000) this.#last.clear();
    this.#last.set(topic, { at: now, suppressed: 0 });
    emit(seen?.suppressed ?? 0);
  }
}
