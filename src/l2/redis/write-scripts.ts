import type { RedisClientType } from '@redis/client';
import type { L2Entry } from '../driver.js';
import { addWithExpiry, type Keyspace } from '../keyspace.js';
import { Script } from '../script.js';

/**
 * Every write goes through this script: it applies the SETs only if Redis runs it before the
 * write's deadline (ARGV[1], in ms of Redis's own clock). Without it a write that timed out on our
 * side can still land much later: once bytes are in Redis's socket buffer, neither closing nor
 * resetting the connection stops a paused Redis from executing them when it resumes (checked on
 * Linux), and a healed network partition delivers them too. A stale value landing after an
 * invalidation is a correctness bug; a dropped cache write is only a miss.
 *
 * The `EXISTS` after each `SET` is a read: with client-side caching on (coherence/coherence.ts), it
 * makes Redis remember that this connection holds the key, so that the next change by anyone else
 * is reported (the write itself is not reported back: NOLOOP). Every script that writes a value
 * kept in L1 ends so.
 */
export const WRITE_SCRIPT = `local now = redis.call('TIME')
if tonumber(now[1]) * 1000 + tonumber(now[2]) / 1000 > tonumber(ARGV[1]) then return 0 end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[i * 2], 'EX', ARGV[i * 2 + 1])
  redis.call('EXISTS', KEYS[i])
end
return 1`;
export const WRITE = new Script(WRITE_SCRIPT);
export const WRITE_SCRIPT_SHA = WRITE.sha;

/**
 * The write script for entries with tags, in the key space `keyspace`: the same deadline and SETs,
 * then each value key added to the index of each of its tags (l2/keyspace.ts `indexLua`). KEYS: the
 * n value keys, then the tag index keys. ARGV: deadline, n, text and ttl per entry, then per tag
 * index: how many entries carry it and their positions. Untagged writes keep the shorter script above.
 */
export function taggedWrite(keyspace: Keyspace): Script {
  return new Script(`${keyspace.indexLua}local now = redis.call('TIME')
if tonumber(now[1]) * 1000 + tonumber(now[2]) / 1000 > tonumber(ARGV[1]) then return 0 end
local n = tonumber(ARGV[2])
for i = 1, n do
  redis.call('SET', KEYS[i], ARGV[i * 2 + 1], 'EX', ARGV[i * 2 + 2])
  redis.call('EXISTS', KEYS[i])
end
local at = n * 2 + 3
for t = n + 1, #KEYS do
  local count = tonumber(ARGV[at])
  for c = 1, count do
    local i = tonumber(ARGV[at + c])
    index(KEYS[t], KEYS[i], tonumber(ARGV[i * 2 + 2]) * 1000)
  end
  at = at + count + 1
end
return 1`);
}

/** EVALSHA arguments of WRITE_SCRIPT after the SHA. */
export function writeArgs(entries: L2Entry[], deadline: number): string[] {
  const args = [String(entries.length), ...entries.map((entry) => entry.key), String(deadline)];
  for (const { text, ttl } of entries) args.push(text, String(ttl));
  return args;
}

/** EVALSHA arguments of TAGGED_WRITE after the SHA. */
export function taggedWriteArgs(entries: L2Entry[], deadline: number): string[] {
  const carriers = new Map<string, number[]>();
  entries.forEach(({ tags }, i) => {
    for (const tag of tags ?? []) {
      const positions = carriers.get(tag);
      if (positions === undefined) carriers.set(tag, [i + 1]);
      else positions.push(i + 1);
    }
  });
  const keys = [...entries.map((entry) => entry.key), ...carriers.keys()];
  const args = [String(keys.length), ...keys, String(deadline), String(entries.length)];
  for (const { text, ttl } of entries) args.push(text, String(ttl));
  for (const positions of carriers.values()) args.push(String(positions.length), ...positions.map(String));
  return args;
}

/**
 * Writes without scripts (a Redis user that may not run them): `SET … EX` (one atomic command,
 * never SET then EXPIRE) and the `EXISTS` read that tracks the key (see WRITE_SCRIPT), then each
 * tag index filled like a cluster's shard registry (`addWithExpiry`). Not atomic with the SET and
 * without pruning; the warning about unguarded writes already covers this mode.
 */
export function plainWrites(client: RedisClientType, entries: L2Entry[]): Array<Promise<unknown>> {
  const commands: Array<Promise<unknown>> = [];
  for (const { key, text, ttl } of entries) {
    commands.push(
      client.sendCommand(['SET', key, text, 'EX', String(ttl)]),
      client.sendCommand(['EXISTS', key]),
    );
  }
  for (const { key, ttl, tags } of entries) {
    for (const tag of tags ?? []) {
      for (const args of addWithExpiry(tag, [key], ttl * 1000)) commands.push(client.sendCommand(args));
    }
  }
  return commands;
}
