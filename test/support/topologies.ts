import { startRedis, type TestRedis, waitFor } from './redis.js';

/** `redis-cli` prints a map reply as alternating lines of field and value; this reads it back. */
export function cliMap(output: string): Map<string, string> {
  const lines = output.split('\n');
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < lines.length; i += 2) map.set(lines[i]!, lines[i + 1]!);
  return map;
}

/** A primary, its replica and three Sentinels monitoring them under `name`: five real processes. */
export interface TestSentinelSet {
  name: string;
  primary: TestRedis;
  replica: TestRedis;
  sentinels: TestRedis[];
  /** The address the Sentinels currently report for the primary. */
  primaryPort(): number;
  stop(): Promise<void>;
}

/**
 * Starts a Sentinel set-up and waits until it can fail over: the replica in sync, and every Sentinel
 * aware of the replica and of the two other Sentinels (they find each other through hello messages
 * every 2 s). `downAfterMs` is how long the primary must be silent before it is considered down.
 */
export async function startSentinelSet(
  options: { name?: string; downAfterMs?: number } = {},
): Promise<TestSentinelSet> {
  const name = options.name ?? 'cachette-primary';
  const primary = await startRedis();
  const replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
  const config = [
    `sentinel monitor ${name} 127.0.0.1 ${primary.port} 2`,
    `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 1000}`,
    `sentinel failover-timeout ${name} 10000`,
    `sentinel parallel-syncs ${name} 1`,
    '',
  ].join('\n');
  const sentinels = await Promise.all([0, 1, 2].map(() => startRedis({ config, args: ['--sentinel'] })));
  const set: TestSentinelSet = {
    name,
    primary,
    replica,
    sentinels,
    primaryPort: () => Number(sentinels[0]!.cli('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name).split('\n')[1]),
    stop: async () => {
      await Promise.all([primary, replica, ...sentinels].map((server) => server.stop()));
    },
  };
  try {
    await waitFor(
      () => replica.cli('INFO', 'replication').includes('master_link_status:up'),
      15_000,
      'the replica to sync',
    );
    await waitFor(
      () =>
        sentinels.every((sentinel) => {
          const master = cliMap(sentinel.cli('SENTINEL', 'MASTER', name));
          return master.get('num-slaves') === '1' && master.get('num-other-sentinels') === '2';
        }),
      20_000,
      'the Sentinels to know the replica and each other',
    );
  } catch (err) {
    await set.stop();
    throw err;
  }
  return set;
}
