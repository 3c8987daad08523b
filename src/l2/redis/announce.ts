import type { ConnectionHooks } from '../driver.js';
import type { Client } from './connection.js';

/**
 * Pub/sub coherence: PUBLISH the written keys right behind the write, in the same socket write
 * (node-redis pipelines the commands of one tick), so a write stays one round trip and the
 * message leaves only after Redis applied it. Does nothing unless `hooks` announce.
 */
export function announce(
  hooks: ConnectionHooks | undefined,
  client: Client,
  written: ReadonlyArray<string | { key: string }> | 'all',
): void {
  if (!hooks?.announcing) return;
  const keys =
    written === 'all' ? written : written.map((entry) => (typeof entry === 'string' ? entry : entry.key));
  const announcement = hooks.announcement(keys);
  if (announcement) {
    client.sendCommand(['PUBLISH', ...announcement]).catch(() => {
      // a lost announcement is bounded by the receivers' L1 TTL; the write itself succeeded or failed on its own
    });
  }
}

/** The keys a maintenance command writes, for pub/sub coherence: a script's KEYS, UNLINK/DEL's arguments. */
export function keysWritten(args: string[]): string[] | 'all' {
  const name = args[0]?.toUpperCase();
  if (name === 'FLUSHDB' || name === 'FLUSHALL') return 'all';
  if (name === 'EVALSHA' || name === 'EVAL') return args.slice(3, 3 + Number(args[2]));
  if (name === 'UNLINK' || name === 'DEL') return args.slice(1);
  return [];
}
