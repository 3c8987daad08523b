import { Glob } from '../../values/glob.js';
import { escapeGlob } from '../../values/keys.js';
import type { L2Commands } from '../driver.js';
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
  /** The app's key prefixes: what a flush removes, and the tag index members that are the app's. */
  prefixes: readonly string[];
  /** `entry` is applied on this server, or Redis refused it for good (`refusal`). */
  settle(entry: PendingEntry, refusal?: unknown): void;
}

type KeyEntry = Extract<PendingEntry, { kind: 'key' }>;
type WideEntry = Exclude<PendingEntry, KeyEntry>;

/**
 * Applies `owed` on one server: the key entries first, in pipelined UNLINKs with their leases; then
 * the tags of one server through their index; then, if any pattern, flush or (on a cluster) tag is
 * owed, one SCAN over the server's keys removes what they cover: values, their getOrSet leases,
 * tag indexes (the app's members). One pass whatever the number of entries: they are all deletes,
 * so their order does not matter. Each entry is settled once done, or refused for good; rejects
 * when Redis fails (a timeout, a lost connection, a redirection), the rest staying owed.
 */
export async function applyOwed(owed: readonly PendingEntry[], target: ApplyTarget): Promise<void> {
  const keys = owed.filter((entry): entry is KeyEntry => entry.kind === 'key');
  for (let i = 0; i < keys.length; i += KEYS_PER_ROUND)
    await applyKeys(keys.slice(i, i + KEYS_PER_ROUND), target);
  const wide = owed.filter((entry): entry is WideEntry => entry.kind !== 'key');
  const swept: WideEntry[] = [];
  for (const entry of wide) {
    if (entry.kind === 'tag' && !target.commands.sharded) {
      await settled(target, [entry], () =>
        removeTagged(target.commands, entry.index, target.prefixes, ignore),
      );
    } else {
      swept.push(entry);
    }
  }
  if (swept.length > 0) await settled(target, swept, () => sweep(swept, target));
}

/** Runs `work`, then settles `entries`: applied, or refused for good; any other failure rejects. */
async function settled(target: ApplyTarget, entries: readonly PendingEntry[], work: () => Promise<unknown>) {
  try {
    await work();
  } catch (err) {
    if (!refusedForGood(err)) throw err;
    for (const entry of entries) target.settle(entry, err);
    return;
  }
  for (const entry of entries) target.settle(entry);
}

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
        ...group.flatMap(({ key }) => [key, commands.keyspace.leaseKey(key, commands.sharded)]),
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

/**
 * One SCAN over the server's keys removes what `entries` cover: a value under a prefix that a
 * pattern (or the flush) matches, the lease of such a value, and the app's members of a tag index
 * (or cluster shard) a tag entry names (every index, for the flush).
 */
async function sweep(entries: readonly WideEntry[], target: ApplyTarget): Promise<void> {
  const { commands, prefixes } = target;
  const flush = entries.some((entry) => entry.kind === 'flush');
  const patterns = new Map<string, Glob[]>();
  const tags = new Set<string>();
  for (const entry of entries) {
    if (entry.kind === 'pattern') {
      const list = patterns.get(entry.prefix) ?? [];
      // the whole Redis key, as SCAN … MATCH selects it
      list.push(new Glob(escapeGlob(entry.prefix) + entry.pattern));
      patterns.set(entry.prefix, list);
    } else if (entry.kind === 'tag') {
      tags.add(entry.index);
    }
  }
  const covered = (key: string): boolean => {
    if (flush) return prefixes.some((prefix) => key.startsWith(prefix));
    for (const [prefix, matchers] of patterns) {
      if (key.startsWith(prefix) && matchers.some((matcher) => matcher.matches(key))) return true;
    }
    return false;
  };
  let cursor = '0';
  do {
    const [next, keys] = await commands.command<[string, string[]]>(['SCAN', cursor, 'COUNT', SCAN_COUNT]);
    cursor = next;
    const doomed: string[] = [];
    const indexes: string[] = [];
    for (const key of keys) {
      const leased = commands.keyspace.leasedKey(key, commands.sharded);
      const index = leased === undefined ? commands.keyspace.tagIndexOf(key) : undefined;
      if (index !== undefined) {
        if (flush || tags.has(index)) indexes.push(key);
      } else if (covered(leased ?? key)) {
        doomed.push(key);
      }
    }
    await unlink(commands, doomed);
    for (const index of indexes) await removeTagged(commands, index, prefixes, ignore);
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
