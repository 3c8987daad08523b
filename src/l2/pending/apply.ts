import { confinedPattern, escapeGlob } from '../../values/keys.js';
import type { L2Commands } from '../driver.js';
import { isShardOf, leaseKey, leasePattern, shardsPattern, tagIndexPattern } from '../keyspace.js';
import { keySlot } from '../redis/cluster/slots.js';
import { isAnswer } from '../redis/outcome.js';
import { removeTagged } from '../tag-index.js';
import type { PendingEntry } from './work.js';

/** Keys removed per UNLINK. */
const KEYS_PER_UNLINK = 500;
/** Key entries applied per round (their UNLINKs leave together, pipelined). */
const KEYS_PER_ROUND = 5000;
/** Keys asked per SCAN step. */
const SCAN_COUNT = '1000';

/**
 * Error replies that say "not now" or "not here" rather than "never": the entry stays owed, and
 * the server tries again (a cluster redirection follows a failover; a loading or busy server recovers).
 */
const TRANSIENT = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN|LOADING|BUSY|MASTERDOWN|READONLY)\b/;

/** One server, as the pending work is applied on it. */
export interface ApplyTarget {
  /** Commands to this server alone, past its breaker (which waits for them), each within the deadline. */
  commands: L2Commands;
  /** The app's key prefixes: tag index members elsewhere belong to another app and stay. */
  prefixes: readonly string[];
  /** `entry` is applied on this server, or Redis refused it for good (`refusal`). */
  settle(entry: PendingEntry, refusal?: unknown): void;
}

/**
 * Applies `owed` on one server, in order: key entries in pipelined UNLINKs (with their leases), a
 * pattern or a flush by SCAN + UNLINK (values, then leases of matching keys), a tag by the tag
 * index's own removal. Each entry is settled as soon as it is done; an entry Redis refuses for good
 * is settled as refused. Rejects when Redis fails (a timeout, a lost connection, a redirection):
 * what was applied stays settled, the rest stays owed.
 */
export async function applyOwed(owed: readonly PendingEntry[], target: ApplyTarget): Promise<void> {
  let i = 0;
  while (i < owed.length) {
    const entry = owed[i]!;
    if (entry.kind !== 'key') {
      try {
        await applyEntry(entry, target);
      } catch (err) {
        if (!refusedForGood(err)) throw err;
        target.settle(entry, err);
        i++;
        continue;
      }
      target.settle(entry);
      i++;
      continue;
    }
    let end = i;
    while (end < owed.length && owed[end]!.kind === 'key' && end - i < KEYS_PER_ROUND) end++;
    await applyKeys(owed.slice(i, end) as KeyEntry[], target);
    i = end;
  }
}

type KeyEntry = Extract<PendingEntry, { kind: 'key' }>;

/** UNLINKs key entries with their leases, per slot on a cluster; settles each group as it answers. */
async function applyKeys(entries: KeyEntry[], target: ApplyTarget): Promise<void> {
  const { commands } = target;
  const groups = commands.sharded
    ? groupBy(entries, (entry) => entry.slot)
    : chunks(entries, KEYS_PER_UNLINK);
  const outcomes = await Promise.allSettled(
    groups.map((group) =>
      commands.command<number>([
        'UNLINK',
        ...group.flatMap(({ key }) => [key, leaseKey(key, commands.sharded)]),
      ]),
    ),
  );
  let failure: unknown;
  outcomes.forEach((outcome, g) => {
    const group = groups[g]!;
    if (outcome.status === 'fulfilled') for (const entry of group) target.settle(entry);
    else if (refusedForGood(outcome.reason)) for (const entry of group) target.settle(entry, outcome.reason);
    else failure ??= outcome.reason;
  });
  if (failure !== undefined) throw failure;
}

async function applyEntry(entry: Exclude<PendingEntry, KeyEntry>, target: ApplyTarget): Promise<void> {
  const { commands, prefixes } = target;
  switch (entry.kind) {
    case 'pattern':
      await removeMatching(commands, confinedPattern(entry.prefix, entry.pattern));
      return;
    case 'tag':
      if (!commands.sharded) {
        await removeTagged(commands, entry.index, prefixes, ignore);
        return;
      }
      // a cluster node holds the shards of the slots it serves: found by SCAN, not by the registry,
      // which may sit on another node
      for await (const keys of scan(commands, shardsPattern(entry.index))) {
        for (const shard of keys) {
          if (isShardOf(shard, entry.index)) await removeTagged(commands, shard, prefixes, ignore);
        }
      }
      return;
    case 'flush':
      for (const prefix of prefixes) await removeMatching(commands, `${escapeGlob(prefix)}*`);
      // the app's entries in every tag index (or shard) on this server; other apps' stay
      for await (const indexes of scan(commands, tagIndexPattern(commands.sharded))) {
        for (const index of indexes) await removeTagged(commands, index, prefixes, ignore);
      }
      return;
  }
}

/** Removes the keys `match` (a SCAN MATCH pattern) finds on this server, then their getOrSet leases. */
async function removeMatching(commands: L2Commands, match: string): Promise<void> {
  for (const pattern of [match, leasePattern(match, commands.sharded)]) {
    for await (const keys of scan(commands, pattern)) await unlink(commands, keys);
  }
}

async function* scan(commands: L2Commands, match: string): AsyncIterable<string[]> {
  let cursor = '0';
  do {
    const [next, keys] = await commands.command<[string, string[]]>([
      'SCAN',
      cursor,
      'MATCH',
      match,
      'COUNT',
      SCAN_COUNT,
    ]);
    cursor = next;
    if (keys.length > 0) yield keys;
  } while (cursor !== '0');
}

/** UNLINK of `keys`: one command per slot on a cluster (a command may not cross slots), else in chunks. */
async function unlink(commands: L2Commands, keys: string[]): Promise<void> {
  const groups = commands.sharded ? groupBy(keys, keySlot) : chunks(keys, KEYS_PER_UNLINK);
  await Promise.all(groups.map((group) => commands.command<number>(['UNLINK', ...group])));
}

/** Whether Redis refused for good (an error reply that retrying cannot change). */
function refusedForGood(err: unknown): boolean {
  return isAnswer(err) && !(err instanceof Error && TRANSIENT.test(err.message));
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => number): T[][] {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    let group = groups.get(key);
    if (!group) {
      group = [];
      groups.set(key, group);
    }
    group.push(item);
  }
  return [...groups.values()];
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function ignore(): void {}
