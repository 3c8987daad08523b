import type { ResolvedConfig } from '../../config/options.js';
import type { Logger } from '../../logger.js';
import type { L2Commands, PendingStatus } from '../driver.js';
import type { Keyspace } from '../keyspace.js';
import { FailedCalls, OutageLog } from '../outage.js';
import { applyOwed } from '../pending/apply.js';
import { type PendingWork, pendingWorkFor } from '../pending/work.js';
import { nodeName } from './nodes.js';

/**
 * What the driver of one Redis server shares with its topology (one server, Sentinel's primary, a
 * cluster primary): the pending work it applies its part of, and the count of failed calls its
 * outage lines report.
 */
export interface DataNode {
  /** This server's `host:port`. */
  address: string;
  /** The topology's pending work. */
  pending: PendingWork;
  /** Whether this server holds the keys of `slot` now (one server: every slot). */
  owns(slot: number): boolean;
  /** Keys live on several servers (lease keys carry hash tags). */
  sharded: boolean;
  failedCalls: FailedCalls;
  /**
   * The outage log of the commands, when the topology keeps one across its servers (Sentinel: an
   * outage ends on the new primary); otherwise the driver keeps its own.
   */
  outage?: OutageLog<unknown>;
}

/** The data node of a single server: the pending work is its own. */
export function soleServer(config: ResolvedConfig): DataNode {
  const address = nodeName(config.redis);
  const servers = [address];
  return {
    address,
    pending: pendingWorkFor(config, () => servers),
    owns: () => true,
    sharded: false,
    failedCalls: new FailedCalls(),
  };
}

/**
 * Applies what one server owes (l2/pending/), one drain at a time: calls made while it runs are
 * skipped (the server is not in use yet) and may owe more, so it goes on until nothing is owed.
 * Rejects when Redis fails; what was applied stays applied.
 */
export class NodeRecovery {
  readonly #node: DataNode;
  readonly #keyspace: Keyspace;
  readonly #retryMs: number;
  #draining: Promise<void> | undefined;
  #soon = false;
  /** The pending work's version when a drain last found nothing owed here. */
  #clearAt = -1;

  /** `keyspace`: the names of the app's internal keys; `retryMs`: the pause before trying again after a drain `soon` started failed. */
  constructor(node: DataNode, keyspace: Keyspace, retryMs: number) {
    this.#node = node;
    this.#keyspace = keyspace;
    this.#retryMs = retryMs;
  }

  /**
   * Drains in the background, once this tick's calls owed what they will: with the commands
   * `usable()` gives, when the server is in use (else its recovery drains, later).
   */
  soon(usable: () => L2Commands['command'] | undefined): void {
    if (this.#soon || this.#node.pending.version === this.#clearAt) return;
    this.#soon = true;
    queueMicrotask(() => {
      this.#soon = false;
      const command = usable();
      if (command === undefined) return;
      this.apply(command).catch(() => {
        // the failure fed the breaker like any command's
        setTimeout(() => this.soon(usable), this.#retryMs).unref();
      });
    });
  }

  /** Drains with `command` (this server's commands, past its breaker, each within the deadline). */
  apply(command: L2Commands['command']): Promise<void> {
    this.#draining ??= this.#drain(command).finally(() => {
      this.#draining = undefined;
    });
    return this.#draining;
  }

  async #drain(command: L2Commands['command']): Promise<void> {
    const { pending, address, owns, sharded } = this.#node;
    const target = {
      commands: { sharded, command, keyspace: this.#keyspace },
      prefixes: pending.prefixes,
      settle: (entry: Parameters<PendingWork['settle']>[1], refusal?: unknown) =>
        pending.settle(address, entry, refusal),
    };
    for (;;) {
      const version = pending.version;
      const owed = pending.owedBy(address, owns);
      if (owed.length === 0) {
        this.#clearAt = version;
        return;
      }
      await applyOwed(owed, target);
    }
  }
}

/** What an outage's lines report: the calls that failed meanwhile, and what became of the pending work. */
interface OutageMark {
  calls: ReadonlyMap<string, number>;
  pending: PendingStatus;
}

/**
 * The outage log of a server's commands (or of Sentinel's primary, whichever server it is). Its
 * counts are the process's: failed calls by kind, pending entries applied, widened, dropped, left.
 */
export function commandOutageLog(
  log: Logger,
  redis: string,
  node: Pick<DataNode, 'failedCalls' | 'pending'>,
): OutageLog<OutageMark> {
  return new OutageLog(
    log,
    { redis },
    {
      mark: () => ({ calls: node.failedCalls.snapshot(), pending: node.pending.status() }),
      since: (mark) => {
        const now = node.pending.status();
        return {
          failedCalls: node.failedCalls.since(mark.calls),
          pending: {
            applied: now.applied - mark.pending.applied,
            widened: now.widened - mark.pending.widened,
            dropped: now.dropped - mark.pending.dropped,
            left: now.entries,
          },
        };
      },
    },
    {
      start: 'cachette: Redis unavailable; serving from memory and the application until it is back',
      still: 'cachette: Redis still unavailable; serving from memory and the application',
      end: 'cachette: Redis connection restored',
    },
  );
}
