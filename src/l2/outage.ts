import type { Logger } from '../logger.js';

/** Cache calls that failed against Redis (answered as a miss or `false`), counted by kind. */
export class FailedCalls {
  readonly #counts = new Map<string, number>();

  /** One call of `kind` (`get`, `set`, `invalidateTags`…) failed against Redis. */
  note(kind: string): void {
    this.#counts.set(kind, (this.#counts.get(kind) ?? 0) + 1);
  }

  /** The counts now, to pass to `since` later. */
  snapshot(): ReadonlyMap<string, number> {
    return new Map(this.#counts);
  }

  /** How many calls of each kind failed since `earlier` (a `snapshot`); kinds without a failure are left out. */
  since(earlier: ReadonlyMap<string, number>): Record<string, number> {
    const failed: Record<string, number> = {};
    for (const [kind, count] of this.#counts) {
      const more = count - (earlier.get(kind) ?? 0);
      if (more > 0) failed[kind] = more;
    }
    return failed;
  }
}

/** What an outage log line says happened during an episode: `mark()` at its start, `since(mark)` later. */
export interface EpisodeMeter<M> {
  mark(): M;
  since(mark: M): Record<string, unknown>;
}

/** The three lines of an outage, by kind (commands, coherence). */
export interface OutageMessages {
  /** Warning: the outage started. */
  start: string;
  /** Warning: it still lasts (at most every `quietMs`, then less and less often). */
  still: string;
  /** Info: it is over, with what happened meanwhile. */
  end: string;
}

/** Least time between two lines of one outage log, in ms. */
export const OUTAGE_QUIET_MS = 10_000;
/** Longest pause between two reminders of a long outage, in ms. */
const MAX_REMINDER_MS = 10 * 60_000;

interface Unreported<M> {
  /** When the first episode not yet reported over started (Date.now). */
  since: number;
  mark: M;
  episodes: number;
  /** Whether its start was logged. */
  announced: boolean;
}

/**
 * The log of one kind of outage (Redis commands, coherence's invalidations): a warning when it
 * starts, reminders while it lasts (after `quietMs`, then twice as long each time), and one info
 * line when it ends with what happened meanwhile (the meter's counters, the length). Never a line
 * per failed call. An outage that flaps (over, then back within `quietMs` of the last line) is not
 * announced again: its episodes are folded into the next line, which counts them.
 */
export class OutageLog<M> {
  readonly #log: Logger;
  readonly #fields: Record<string, unknown>;
  readonly #meter: EpisodeMeter<M>;
  readonly #messages: OutageMessages;
  readonly #quietMs: number;
  /** When the current episode started (Date.now), while one is open. */
  #openSince: number | undefined;
  #unreported: Unreported<M> | undefined;
  #lastLineAt = Number.NEGATIVE_INFINITY;
  #reminderMs: number;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  /** `fields` go on every line (which Redis); `meter` tells what happened during an episode. */
  constructor(
    log: Logger,
    fields: Record<string, unknown>,
    meter: EpisodeMeter<M>,
    messages: OutageMessages,
    quietMs = OUTAGE_QUIET_MS,
  ) {
    this.#log = log;
    this.#fields = fields;
    this.#meter = meter;
    this.#messages = messages;
    this.#quietMs = quietMs;
    this.#reminderMs = quietMs;
  }

  /** Whether an episode is open. */
  get active(): boolean {
    return this.#openSince !== undefined;
  }

  /** The outage started (or goes on: then nothing happens); `err` says why, without secrets. */
  down(err?: string): void {
    if (this.#closed || this.#openSince !== undefined) return;
    const now = Date.now();
    this.#openSince = now;
    this.#unreported ??= { since: now, mark: this.#meter.mark(), episodes: 0, announced: false };
    this.#unreported.episodes++;
    if (!this.#unreported.announced && now - this.#lastLineAt >= this.#quietMs) {
      this.#announce(now, err);
      this.#schedule(this.#reminderMs);
    } else {
      this.#schedule(this.#lastLineAt + this.#quietMs - now);
    }
  }

  /** The outage is over. */
  up(): void {
    if (this.#closed || this.#openSince === undefined) return;
    this.#openSince = undefined;
    const now = Date.now();
    const unreported = this.#unreported!;
    // the usual outage: announced, then over; a flapping one waits for the quiet period to end
    if ((unreported.episodes === 1 && unreported.announced) || now - this.#lastLineAt >= this.#quietMs) {
      this.#reportEnd(now);
    } else {
      this.#schedule(this.#lastLineAt + this.#quietMs - now);
    }
  }

  /** Stops the reminders for good (on close). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  #announce(now: number, err: string | undefined): void {
    const unreported = this.#unreported!;
    unreported.announced = true;
    this.#lastLineAt = now;
    const again = unreported.episodes > 1 ? { episodes: unreported.episodes } : {};
    this.#log.warn(
      { ...this.#fields, ...(err === undefined ? {} : { err }), ...again },
      this.#messages.start,
    );
  }

  #reportEnd(now: number): void {
    const unreported = this.#unreported!;
    this.#unreported = undefined;
    this.#lastLineAt = now;
    this.#reminderMs = this.#quietMs;
    clearTimeout(this.#timer);
    const episodes = unreported.episodes > 1 ? { episodes: unreported.episodes } : {};
    this.#log.info(
      {
        ...this.#fields,
        lastedMs: now - unreported.since,
        ...episodes,
        ...this.#meter.since(unreported.mark),
      },
      this.#messages.end,
    );
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#tick(), Math.max(0, delayMs));
    this.#timer.unref();
  }

  /** A quiet period ended: announce an episode that was not, remind of a long one, or report folded ones over. */
  #tick(): void {
    if (this.#closed) return;
    const now = Date.now();
    const unreported = this.#unreported;
    if (unreported === undefined) return;
    if (this.#openSince === undefined) {
      this.#reportEnd(now);
      return;
    }
    if (!unreported.announced) {
      this.#announce(now, undefined);
    } else {
      this.#lastLineAt = now;
      this.#log.warn(
        { ...this.#fields, forMs: now - unreported.since, ...this.#meter.since(unreported.mark) },
        this.#messages.still,
      );
      this.#reminderMs = Math.min(this.#reminderMs * 2, MAX_REMINDER_MS);
    }
    this.#schedule(this.#reminderMs);
  }
}
