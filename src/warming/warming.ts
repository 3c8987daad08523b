import { CacheConfigError, WarmingTimeoutError } from '../errors.js';
import { defaultLogger, describeError, type Logger } from '../logger.js';
import { type Duration, describeDuration, durationHint, durationIn } from '../values/durations.js';

/** A warming task: loads data into the cache. It may watch `signal`, aborted when the task times out. */
export type WarmingTaskFn = (context: { signal: AbortSignal }) => unknown;

/** A task as registered with `registerTask({ … })`. */
export interface WarmingTask {
  /** Unique name, used in logs and metrics. */
  name: string;
  /** The work: fills the cache; receives an `AbortSignal` aborted at its timeout. */
  task: WarmingTaskFn;
  /** A critical task's failure is logged at `warn`, a non-critical one's at `debug`. Default `false`. */
  critical?: boolean;
  /** How long the task may run, in ms (or a string such as `'10s'`), before it counts as failed. Default: the service's `taskTimeoutMs`. */
  timeoutMs?: Duration;
}

/** Options of `new CacheWarmingService(cache, options)`. */
export interface WarmingOptions {
  /** A pino-compatible logger. Default: warnings and errors on stderr. */
  logger?: Logger;
  /** Interval of `startPeriodicWarming()` in ms (or a string such as `'5m'`). Default 300 000 (5 minutes). */
  intervalMs?: Duration;
  /** Default task timeout in ms (or a string such as `'30s'`). Default 30 000. */
  taskTimeoutMs?: Duration;
  /** Name of the claim that lets one process per interval run the periodic warming (`cache.claim`). Default `warming`. */
  claimName?: string;
  /** @deprecated the former name of `claimName`, still accepted. */
  slotName?: string;
}

/** Counters of one task, or of all tasks together. Timestamps are ms since the epoch, `null` before the first. */
export interface WarmingTaskMetrics {
  /** Executions started. */
  executionCount: number;
  /** Executions that succeeded. */
  successCount: number;
  /** Executions that failed or timed out. */
  failureCount: number;
  /** Start of the last execution, in ms since the epoch; `null` before the first. */
  lastRun: number | null;
  /** End of the last success, in ms since the epoch; `null` before the first. */
  lastSuccess: number | null;
  /** The last failure's message (`null` until one happens); in the total, prefixed with the task name. */
  lastError: string | null;
  /** Duration of the last execution, in ms; `null` before the first. */
  lastDurationMs: number | null;
}

/** What `getMetrics()` returns. */
export interface WarmingMetrics {
  /** `true` while a run is active. */
  warmingInProgress: boolean;
  /** Whether periodic warming is started, and its interval in ms. */
  periodic: {
    /** Whether the periodic timer runs. */
    active: boolean;
    /** Its interval, in ms. */
    intervalMs: number;
  };
  /** Warming runs started (start-up or periodic). */
  runs: number;
  /** Runs requested while another was in progress, hence skipped. */
  skippedRuns: number;
  /** Periodic runs left to another process that held the interval's claim. */
  leftToOtherProcess: number;
  /** All tasks together; `lastRun` and `lastDurationMs` describe the last whole run. */
  total: WarmingTaskMetrics;
  /** Per task, by name, with whether it is critical. */
  tasks: Record<string, WarmingTaskMetrics & WarmingCriticality>;
}

/** Whether a task is critical (its failure logged at `warn`, run first). */
export interface WarmingCriticality {
  /** `true` for a critical task. */
  critical: boolean;
}

/** The outcome of one warming run; never a rejection. */
export interface WarmingReport {
  /** `true` when the run did not happen: another was in progress, or another process had the period. */
  skipped: boolean;
  /** Tasks that succeeded, by name. */
  succeeded: string[];
  /** Tasks that failed or timed out, by name. */
  failed: string[];
}

/** What reads warming metrics (the admin stats report, the exporter) needs of a warming service: a `CacheWarmingService` fits. */
export interface WarmingSource {
  /** The service's state and counters. */
  getMetrics(): WarmingMetrics;
}

/** The part of the cache the warming service needs. */
export interface WarmingCache {
  /** See `Cache.claim`: `true` if this process got the period, `false` if another holds it, `undefined` when Redis failed. */
  claim(name: string, ttlMs: number): Promise<boolean | undefined>;
}

interface Registered {
  name: string;
  task: WarmingTaskFn;
  critical: boolean;
  timeoutMs: number;
  metrics: WarmingTaskMetrics;
}

const DEFAULT_INTERVAL_MS = 300_000;
const DEFAULT_TASK_TIMEOUT_MS = 30_000;

function emptyMetrics(): WarmingTaskMetrics {
  return {
    executionCount: 0,
    successCount: 0,
    failureCount: 0,
    lastRun: null,
    lastSuccess: null,
    lastError: null,
    lastDurationMs: null,
  };
}

function positiveMs(name: string, value: Duration | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = durationIn(value, 'ms');
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) {
    throw new CacheConfigError(
      `${name} must be ${durationHint('ms')} > 0, got ${describeDuration(value, 'ms')}`,
    );
  }
  return ms;
}

/**
 * Pre-loads the caches that matter after a restart and refreshes them periodically: one run
 * at a time per process, one periodic run per interval across processes (a Redis claim whose TTL
 * is the interval; every process warms its own when Redis is down), tasks that fail or time out
 * never stop the others, and metrics per task. Timers are unref'd: they never keep a process alive.
 */
export class CacheWarmingService {
  readonly #cache: WarmingCache;
  readonly #log: Logger;
  readonly #taskTimeoutMs: number;
  readonly #claimName: string;
  readonly #tasks = new Map<string, Registered>();
  readonly #total = emptyMetrics();
  #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #current: Promise<WarmingReport> | undefined;
  #runs = 0;
  #skippedRuns = 0;
  #leftToOtherProcess = 0;
  #closed = false;

  constructor(cache: WarmingCache, options: WarmingOptions = {}) {
    this.#cache = cache;
    this.#log = options.logger ?? defaultLogger;
    this.#intervalMs = positiveMs('intervalMs', options.intervalMs, DEFAULT_INTERVAL_MS);
    this.#taskTimeoutMs = positiveMs('taskTimeoutMs', options.taskTimeoutMs, DEFAULT_TASK_TIMEOUT_MS);
    this.#claimName = options.claimName ?? options.slotName ?? 'warming';
  }

  /** Whether a warming run is active in this process. */
  get warmingInProgress(): boolean {
    return this.#current !== undefined;
  }

  /** Registers a task; throws `CacheConfigError` if the name is taken or the task is not a function. */
  registerTask(task: WarmingTask): void;
  registerTask(name: string, task: WarmingTaskFn, critical?: boolean): void;
  registerTask(nameOrTask: string | WarmingTask, task?: WarmingTaskFn, critical = false): void {
    const spec: WarmingTask =
      typeof nameOrTask === 'string' ? { name: nameOrTask, task: task!, critical } : nameOrTask;
    if (typeof spec.name !== 'string' || spec.name === '') {
      throw new CacheConfigError('a warming task needs a non-empty name');
    }
    if (typeof spec.task !== 'function') {
      throw new CacheConfigError(`warming task ${JSON.stringify(spec.name)} is not a function`);
    }
    if (this.#tasks.has(spec.name)) {
      throw new CacheConfigError(`a warming task named ${JSON.stringify(spec.name)} is already registered`);
    }
    this.#tasks.set(spec.name, {
      name: spec.name,
      task: spec.task,
      critical: spec.critical ?? false,
      timeoutMs: positiveMs(`timeoutMs of warming task ${spec.name}`, spec.timeoutMs, this.#taskTimeoutMs),
      metrics: emptyMetrics(),
    });
  }

  /**
   * Runs every registered task (critical ones first) in the background: the returned promise need
   * not be awaited, start-up is not delayed, and it never rejects. Skipped if a run is in progress.
   */
  warmCriticalCaches(): Promise<WarmingReport> {
    return this.#request();
  }

  /** Runs the tasks every `intervalMs` ms (default: the service's, 5 minutes), once per interval across processes. */
  startPeriodicWarming(intervalMs: Duration = this.#intervalMs): void {
    if (this.#closed) return;
    this.#intervalMs = positiveMs('intervalMs', intervalMs, this.#intervalMs);
    this.stopPeriodicWarming();
    this.#timer = setInterval(() => void this.#periodic(), this.#intervalMs);
    this.#timer.unref();
  }

  /** Stops the periodic timer; a run in progress finishes on its own. */
  stopPeriodicWarming(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Stops periodic warming for good; a run in progress finishes on its own. */
  async close(): Promise<void> {
    this.#closed = true;
    this.stopPeriodicWarming();
  }

  /** Counters per task and in total, plus the state of the service (copies, safe to keep). */
  getMetrics(): WarmingMetrics {
    const tasks: WarmingMetrics['tasks'] = {};
    for (const { name, critical, metrics } of this.#tasks.values()) tasks[name] = { ...metrics, critical };
    return {
      warmingInProgress: this.warmingInProgress,
      periodic: { active: this.#timer !== undefined, intervalMs: this.#intervalMs },
      runs: this.#runs,
      skippedRuns: this.#skippedRuns,
      leftToOtherProcess: this.#leftToOtherProcess,
      total: { ...this.#total },
      tasks,
    };
  }

  async #periodic(): Promise<void> {
    if (this.warmingInProgress) {
      this.#skip();
      return;
    }
    // the claim lives one interval: whichever process takes it first warms for everyone this period
    const claimed = await this.#cache.claim(this.#claimName, this.#intervalMs);
    if (claimed === false) {
      this.#leftToOtherProcess++;
      this.#log.debug({ claim: this.#claimName }, 'cachette: periodic warming done by another process');
      return;
    }
    await this.#request();
  }

  #request(): Promise<WarmingReport> {
    if (this.#current !== undefined) {
      this.#skip();
      return Promise.resolve({ skipped: true, succeeded: [], failed: [] });
    }
    const run = this.#run();
    this.#current = run;
    const done = () => {
      this.#current = undefined;
    };
    void run.then(done, done);
    return run;
  }

  #skip(): void {
    this.#skippedRuns++;
    this.#log.debug({}, 'cachette: warming already in progress; this run is skipped');
  }

  async #run(): Promise<WarmingReport> {
    // start on a later turn of the event loop, so that even a task with synchronous work cannot delay start-up
    await new Promise((resolve) => setImmediate(resolve));
    this.#runs++;
    const started = Date.now();
    this.#total.lastRun = started;
    const report: WarmingReport = { skipped: false, succeeded: [], failed: [] };
    const ordered = [...this.#tasks.values()].sort((a, b) => Number(b.critical) - Number(a.critical));
    for (const registered of ordered) {
      const ok = await this.#runTask(registered);
      (ok ? report.succeeded : report.failed).push(registered.name);
    }
    this.#total.lastDurationMs = Date.now() - started;
    return report;
  }

  /** Runs one task within its timeout; records and logs the outcome; never throws. */
  async #runTask(registered: Registered): Promise<boolean> {
    const { name, critical, timeoutMs, metrics } = registered;
    const started = Date.now();
    metrics.executionCount++;
    metrics.lastRun = started;
    this.#total.executionCount++;
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(() => registered.task({ signal: controller.signal })),
        new Promise((_, reject) => {
          timer = setTimeout(() => {
            const err = new WarmingTimeoutError(timeoutMs);
            controller.abort(err);
            reject(err);
          }, timeoutMs);
        }),
      ]);
      const now = Date.now();
      metrics.successCount++;
      metrics.lastSuccess = now;
      metrics.lastDurationMs = now - started;
      this.#total.successCount++;
      this.#total.lastSuccess = now;
      this.#log.debug({ task: name, durationMs: metrics.lastDurationMs }, 'cachette: warming task done');
      return true;
    } catch (err) {
      const reason = describeError(err);
      metrics.failureCount++;
      metrics.lastError = reason;
      metrics.lastDurationMs = Date.now() - started;
      this.#total.failureCount++;
      this.#total.lastError = `${name}: ${reason}`;
      const fields = { task: name, critical, err: reason, durationMs: metrics.lastDurationMs };
      // a critical task's failure is a warning, a non-critical one's is only worth a debug line
      if (critical) this.#log.warn(fields, 'cachette: critical warming task failed');
      else this.#log.debug(fields, 'cachette: warming task failed');
      return false;
    } finally {
      clearTimeout(timer);
    }
  }
}
